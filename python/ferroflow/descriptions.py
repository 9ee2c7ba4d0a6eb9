"""Short, safe descriptions of the executor a run used, for its record and displays.

A run's record keeps which executor ran it (``runs.executor``), shown by ``ferroflow
run``'s summary, ``ferroflow runs show``, the API and the web UI's run page. The text
is made here, once, so that every place shows the same and none shows a secret:

* an executor built from a registered name (``get_executor("dask", address=...)``,
  ``ferroflow run --executor NAME --executor-option K=V``, a deployment's executor) is
  its name, ``distribution:name`` when a third-party distribution registered it
  (``ferroflow-dask:dask``; a built-in is its bare name, ``local``), and the options it
  was built with: ``ferroflow-dask:dask(address='tcp://10.0.0.5:8786', n_workers=4)``;
* an executor object given as it is: its ``name`` attribute (else its class name) and
  the few settings that say where it runs when it has them as plain attributes
  (:data:`KEY_SETTINGS`): ``processes(max_workers=4)``.

What is never shown: the value of an option whose name looks secret (:func:`secret_name`:
``token``, ``password``, ``api_key``, ``credentials``...; inside nested dicts too) is
``***``; a URL's password is ``***``; a registered secret value
(:mod:`ferroflow.redaction`) is masked. An object that is not a plain value is shown by
its type (its ``repr()`` is never called). Each value is cut to :data:`VALUE_CHARS`
characters and the whole text to :data:`MAX_CHARS`; characters that are not printable
(newlines, escape sequences, bidirectional overrides) are escaped, so a description is
one line whatever it was made from (:func:`printable`, which the store applies again to
what a client sends).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["ATTRIBUTE", "KEY_SETTINGS", "MASKED", "MAX_CHARS", "VALUE_CHARS", "describe_executor",
           "describe_options", "describe_value", "printable", "secret_name", "tag_description"]

#: What the value of a secret-looking option is shown as.
MASKED = "***"
#: The most characters of one option's value shown.
VALUE_CHARS = 80
#: The most characters of a whole description.
MAX_CHARS = 300
#: The attribute a registered factory's product is tagged with (its description).
ATTRIBUTE = "_ferroflow_description"
#: Attributes of an executor given as an object that are shown when they hold a plain
#: value (where it runs, how wide).
KEY_SETTINGS = ("address", "max_workers", "n_workers")

#: Parts of an option name that make it a secret's (matched anywhere in the name,
#: case-insensitive: ``api_key``, ``DB_PASSWORD``, ``authToken``).
_SECRET = re.compile(r"pass(?:word|wd|phrase)?|pwd|secret|token|key|credential|auth|cookie|session|private|"
                     r"signature|salt|cert", re.IGNORECASE)
#: Items of a list or dict shown, and nesting levels, before ``...``.
_ITEMS = 8
_DEPTH = 3


def secret_name(name: Any) -> bool:
    """Whether an option (or dict key) named ``name`` looks like it holds a secret."""
    return isinstance(name, str) and _SECRET.search(name) is not None


def printable(text: str, limit: int = MAX_CHARS) -> str:
    """``text`` on one line: every character that is not printable escaped
    (``\\n``, ``\\x1b``, ``\\u202e``), then cut to ``limit`` characters (ending
    ``...`` when cut)."""
    if not text.isprintable():
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[:max(0, limit - 3)] + "..."


def _text(value: str) -> str:
    from ferroflow import redaction

    return redaction.scrub(redaction.without_password(value))


def _value(value: Any, depth: int = 0) -> str:
    """One value, as shown: plain values by ``repr()``, containers item by item (their
    secret-looking keys masked), anything else by its type."""
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    if isinstance(value, str):
        return printable(repr(_text(value)), VALUE_CHARS)
    if isinstance(value, type):
        return printable(_text(f"{value.__module__}.{value.__qualname__}"), VALUE_CHARS)
    if isinstance(value, Mapping):
        if depth >= _DEPTH:
            return "{...}"
        items = list(value.items())
        shown = [f"{_key(k, depth)}: {MASKED if secret_name(k) else _value(v, depth + 1)}" for k, v in items[:_ITEMS]]
        return printable("{" + ", ".join(shown + (["..."] if len(items) > _ITEMS else [])) + "}", VALUE_CHARS)
    if isinstance(value, (list, tuple)):
        if depth >= _DEPTH:
            return "[...]"
        shown = [_value(v, depth + 1) for v in value[:_ITEMS]]
        return printable("[" + ", ".join(shown + (["..."] if len(value) > _ITEMS else [])) + "]", VALUE_CHARS)
    return f"<{printable(type(value).__name__, 40)}>"


def _key(key: Any, depth: int) -> str:
    return _value(key, depth + 1) if isinstance(key, str) else printable(_value(key, depth + 1), 40)


def _name(name: Any) -> str:
    """An option's name: itself when it is an identifier, else quoted."""
    text = str(name)
    return text if text.isidentifier() else printable(repr(text), 40)


def describe_options(name: str, options: Mapping[str, Any] | None = None) -> str:
    """``name(option=value, ...)`` (``name`` alone without options), safe to record and
    show: see the module docstring."""
    head = printable(_text(str(name)), 100)
    if not options:
        return head
    parts = [f"{_name(k)}={MASKED if secret_name(k) else _value(v)}" for k, v in options.items()]
    return printable(f"{head}({', '.join(parts)})")


def describe_value(value: Any) -> str:
    """One value (a dict of options, say) as a description shows it, secret-looking keys
    masked: for messages that name what an object was given."""
    return _value(value)


def tag_description(obj: Any, name: str, options: Mapping[str, Any] | None) -> None:
    """Remember on ``obj``, built from the registered ``name`` with ``options``, its
    description (an object that refuses attributes is described by its class)."""
    try:
        setattr(obj, ATTRIBUTE, describe_options(name, options))
    except Exception:  # __slots__, a frozen object...
        pass


def describe_executor(executor: Any) -> str:
    """What the run record says about ``executor``: as tagged when built from a
    registered name, else its ``name`` (or class name) and its :data:`KEY_SETTINGS`.
    Never raises: an executor whose attributes raise is described by its class."""
    try:
        return _described(executor)
    except Exception:  # (a __getattr__ or property that raises: describing must not fail a run)
        return printable(type(executor).__name__, 100)


def _described(executor: Any) -> str:
    tagged = getattr(executor, ATTRIBUTE, None)
    if isinstance(tagged, str) and tagged:
        from ferroflow import redaction

        return printable(redaction.scrub(tagged))  # (a secret registered since it was built, too)
    name = getattr(executor, "name", None)
    if not isinstance(name, str) or not name:
        name = type(executor).__name__
    settings = {}
    for attribute in KEY_SETTINGS:
        value = getattr(executor, attribute, None)
        if value is not None and isinstance(value, (str, int, float)) and not isinstance(value, bool):
            settings[attribute] = value
    return describe_options(name, settings)
