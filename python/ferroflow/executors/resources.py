"""Resource requests written as task tags, read by one rule for every executor.

Executors that place work on a cluster let a task ask for resources with tags:
``dask-resource:GPU=1`` (ferroflow-dask), ``ray-num-gpus:1`` or
``ray-resource:licence=1`` (ferroflow-ray). :class:`ResourceTags` reads them, so every
executor takes the same amounts and rejects the same mistakes:

* An amount is a finite number ``>= 0``: ``1``, ``0.5``, ``2.5e9``; whole amounts come
  back as ``int``. Anything else (``-1``, ``nan``, ``inf``, ``two``) is an error.
* ``0`` asks for none of the resource. A named resource asked for with ``0``
  (``dask-resource:GPU=0``, ``ray-resource:db=0``) puts no restriction on where the task
  runs: it is left out of the request, so the task may run where that resource is not
  offered at all. An amount tag keeps its ``0`` (``ray-num-cpus:0``: each unit
  reserves no CPU, instead of the executor's default one).
* Two tags of a task that ask for different amounts of the same resource are an error
  (the same amount twice is not).

Every error is an :class:`~ferroflow.errors.ExecutorError` naming the task and the tag.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from ferroflow.errors import ExecutorError

__all__ = ["Amount", "ResourceTags", "parse_amount"]

#: An amount of a resource: an int when whole, else a float.
Amount = int | float


def parse_amount(text: str, tag: str, task_name: str, kind: str, example: str) -> Amount:
    """The amount ``text`` (from ``tag`` of task ``task_name``): a finite number ``>= 0``,
    an int when whole. Raises :class:`ExecutorError` for anything else, naming the task,
    the tag, the ``kind`` of resource and an ``example`` of a good tag."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise ExecutorError(f"Task {task_name!r} has the tag {tag!r}: {text.strip()!r} is not an amount of a "
                            f"{kind} (a number >= 0, as in {example!r})")
    return int(value) if value.is_integer() else value


class ResourceTags:
    """The tags of one task, read as resource requests for one executor.

    Args:
        tags: The task's tags (anything but strings is ignored).
        task_name: The task's name, for errors.
        executor: The executor's name as messages say it (``"Dask"``, ``"Ray"``).
    """

    def __init__(self, tags: Iterable[Any], task_name: str, executor: str) -> None:
        self.tags = sorted(tag for tag in tags if isinstance(tag, str))
        self.task_name = task_name
        self.executor = executor

    def amount(self, prefix: str, what: str) -> Amount | None:
        """The amount asked by the tags ``PREFIX AMOUNT`` (``ray-num-cpus:2``), or None
        when there is none; ``what`` names the resource in errors (``"CPU"``). A ``0`` is
        kept: it asks for none of the resource."""
        found = None
        for tag in self.tags:
            if tag.startswith(prefix):
                value = parse_amount(tag[len(prefix):], tag, self.task_name, f"{self.executor} resource",
                                     f"{prefix}1")
                found = self._one(found, value, tag, what)
        return None if found is None else found[0]

    def named(self, prefix: str, kind: str, example: str) -> dict:
        """``{NAME: AMOUNT}`` asked by the tags ``PREFIX NAME=AMOUNT``
        (``dask-resource:GPU=1``), without the resources asked for with ``0``. ``kind``
        names such a resource in errors (``"Dask resource"``); ``example`` is a
        good tag (``"dask-resource:GPU=1"``)."""
        found: dict = {}
        for tag in self.tags:
            if not tag.startswith(prefix):
                continue
            name, equals, text = tag[len(prefix):].partition("=")
            name = name.strip()
            if not equals or not name:
                raise ExecutorError(f"Task {self.task_name!r} has the tag {tag!r}, which is not a {kind} tag: "
                                    f"write a {kind} as '{prefix}NAME=AMOUNT' (as in {example!r})")
            value = parse_amount(text, tag, self.task_name, kind, f"{prefix}{name}=1")
            found[name] = self._one(found.get(name), value, tag, f"resource {name!r}")
        return {name: value for name, (value, _) in found.items() if value}

    def _one(self, found: tuple | None, value: Amount, tag: str, what: str) -> tuple:
        """``(value, tag)``, unless an earlier tag asked for another amount of ``what``."""
        if found is not None and found[0] != value:
            raise ExecutorError(f"Task {self.task_name!r} has the tags {found[1]!r} and {tag!r}, which ask "
                                f"{self.executor} for different amounts of {what}")
        return found if found is not None else (value, tag)
