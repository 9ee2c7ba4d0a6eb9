"""``ferroflow.toml``: a project's deployments, declared in one file, read and checked
whole before ``ferroflow deploy --all`` deploys any of them.

::

    [[deployments]]
    name = "nightly-etl"
    entrypoint = "flows/etl.py:flow"      # or package.module:flow
    parameters = { n = 1000 }
    cron = "0 3 * * *"                    # or: interval = 3600 (seconds), or a [deployments.schedule]
                                          # table: a schedule's JSON spec (fields left out: defaults)
    pool = "default"
    tags = ["etl"]
    executor = "local"
    executor_options = {}
    retries = 2
    concurrency_limit = 1
    description = "the nightly load"
    catchup = "latest"                    # or "all"

Only ``name`` and ``entrypoint`` are required; the others default as in ``ferroflow
deploy``. A key the file does not know (in an entry, or at the top level) is refused by
name. An entry's file entrypoint is loaded relative to the directory holding the file
(to check the flow is there and takes the parameters given) and stored **as written**:
workers resolve it against their working directory, so run them from the project's
root (the file's directory). :func:`read_project` checks every entry (its fields,
schedule, flow and parameters) and raises :class:`ProjectFileError` listing every
problem, each with the file and the entry's name; nothing is deployed then.
"""

from __future__ import annotations

import datetime
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ENTRY_KEYS", "PROJECT_FILE", "DeploymentEntry", "ProjectFileError", "complete_spec", "read_project"]

#: The file ``ferroflow deploy --all`` reads by default (in the working directory).
PROJECT_FILE = "ferroflow.toml"
#: The keys of a ``[[deployments]]`` entry.
ENTRY_KEYS = ("name", "entrypoint", "parameters", "cron", "interval", "schedule", "pool", "tags", "executor",
              "executor_options", "retries", "concurrency_limit", "description", "catchup")
_TOP_KEYS = ("deployments",)
_SCHEDULE_KEYS = ("cron", "interval", "schedule")


class ProjectFileError(ValueError):
    """A project file cannot be read or is invalid; ``problems`` lists what is wrong,
    one line each, naming the file and the entry."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class DeploymentEntry:
    """One checked entry: the deployment's name and the recipe to deploy (the keyword
    arguments of :func:`ferroflow.store.deployments.deploy`)."""

    name: str
    recipe: dict[str, Any] = field(default_factory=dict)


def _load_toml(path: Path) -> dict:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # Python 3.10: the tomli package, when installed
        try:
            import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            raise ProjectFileError([f"{path}: reading it needs Python 3.11 or the tomli package"]) from None
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ProjectFileError([f"{path}: no such file (`ferroflow deploy --all` reads {PROJECT_FILE} in the "
                                f"working directory, or --file PATH)"]) from None
    except OSError as exc:
        raise ProjectFileError([f"{path}: cannot be read: {exc.strerror or exc}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ProjectFileError([f"{path}: not valid TOML: {exc}"]) from None


def _kind(value: Any) -> str:
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "an array",
            dict: "a table"}.get(type(value), type(value).__name__)


def _type_problem(entry: dict) -> str | None:
    """What is wrong with the types of an entry's fields, or None."""
    expected: dict[str, tuple[type, ...]] = {
        "entrypoint": (str,), "parameters": (dict,), "cron": (str,), "interval": (int, float),
        "schedule": (dict,), "pool": (str,), "tags": (list,), "executor": (str,), "executor_options": (dict,),
        "retries": (int,), "concurrency_limit": (int,), "description": (str,), "catchup": (str,),
    }
    for key, types in expected.items():
        if key in entry and (not isinstance(entry[key], types) or isinstance(entry[key], bool)):
            want = "a whole number" if types == (int,) else " or ".join(sorted({_kind(t()) for t in types}))
            return f"{key} must be {want}, got {_kind(entry[key])}"
    tags = entry.get("tags", [])
    if not all(isinstance(t, str) for t in tags):
        return "tags must be an array of strings"
    return None


def _schedule(entry: dict) -> Any:
    from ferroflow.client.deployments import schedule_spec
    from ferroflow.schedules import CronClock, IntervalClock

    if "cron" in entry:
        try:
            return schedule_spec(CronClock(entry["cron"]))
        except ValueError as exc:
            raise ValueError(f"cron: {exc}") from None
    if "interval" in entry:
        seconds = entry["interval"]
        if not 0 < seconds < float("inf"):
            raise ValueError(f"interval must be a number of seconds above 0, got {seconds!r}")
        return schedule_spec(IntervalClock(datetime.timedelta(seconds=seconds)))
    spec = entry.get("schedule")
    return None if spec is None else complete_spec(spec)


#: Defaults of a schedule spec's fields that may be left out of a project file (TOML
#: has no null): of the spec, and of each clock.
_SPEC_DEFAULTS: dict[str, Any] = {"v": 1, "filters": [], "or_filters": [], "not_filters": [], "adjustments": []}
_CLOCK_DEFAULTS: dict[str, Any] = {"start_date": None, "end_date": None, "parameter_defaults": {}, "labels": None}


def complete_spec(spec: dict) -> dict:
    """A schedule's JSON spec (:mod:`ferroflow.schedules.spec`) as a project file may
    write it, with the fields it left out given their defaults (``v`` 1, no filters or
    adjustments; a clock without start or end date, parameter defaults or labels; a cron
    clock's ``day_or`` true). Fields given are kept as they are (checked when stored)."""
    out = {**_SPEC_DEFAULTS, **spec}
    clocks = out.get("clocks")
    if isinstance(clocks, list):
        out["clocks"] = [({**_CLOCK_DEFAULTS, **({"day_or": True} if c.get("kind") == "cron" else {}), **c}
                          if isinstance(c, dict) else c) for c in clocks]
    return out


def _flow(entrypoint: str, root: Path) -> Any:
    """The flow an entrypoint names, a file's path taken relative to ``root``."""
    from ferroflow.cli.loader import load_entrypoint as _load

    path, sep, attribute = entrypoint.rpartition(":")
    if path.endswith(".py"):
        return _load(f"{root / path}:{attribute}")
    sys.path.insert(0, str(root))
    try:
        return _load(entrypoint)
    finally:
        try:
            sys.path.remove(str(root))
        except ValueError:
            pass


def _check_entry(entry: dict, root: Path) -> DeploymentEntry:
    """The checked entry; ValueError (or a load error) saying what is wrong."""
    from ferroflow.store.deployments import _values, check_entrypoint

    unknown = [key for key in entry if key not in ENTRY_KEYS]
    if unknown:
        raise ValueError(f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} (an entry "
                         f"takes: {', '.join(ENTRY_KEYS)})")
    if "entrypoint" not in entry:
        raise ValueError("entrypoint is required (path/to/file.py:flow or package.module:flow)")
    problem = _type_problem(entry)
    if problem:
        raise ValueError(problem)
    schedules = [key for key in _SCHEDULE_KEYS if key in entry]
    if len(schedules) > 1:
        raise ValueError(f"give one schedule: {' or '.join(schedules)}, not several")
    check_entrypoint(entry["entrypoint"])
    recipe = {
        "entrypoint": entry["entrypoint"], "parameters": dict(entry.get("parameters", {})),
        "schedule": _schedule(entry), "pool": entry.get("pool", "default"), "tags": list(entry.get("tags", [])),
        "executor": entry.get("executor"), "executor_options": dict(entry.get("executor_options", {})),
        "retries": entry.get("retries", 0), "concurrency_limit": entry.get("concurrency_limit"),
        "description": entry.get("description", ""), "catchup": entry.get("catchup", "latest"),
    }
    _values(entry["name"], flow_name=None, **recipe)  # every field as the store checks it
    flow = _flow(entry["entrypoint"], root)
    known = sorted(p.name for p in flow.parameters())
    unknown = sorted(set(recipe["parameters"]) - set(known))
    if unknown:
        raise ValueError(f"flow {flow.name!r} has no parameter {', '.join(map(repr, unknown))} (its parameters: "
                         f"{', '.join(known) or 'none'})")
    from ferroflow.client.deployments import parameter_schema

    return DeploymentEntry(entry["name"], {**recipe, "flow_name": flow.name,
                                           "parameter_schema": parameter_schema(flow)})


def read_project(path: str | os.PathLike) -> list[DeploymentEntry]:
    """Every deployment the project file at ``path`` declares, each checked (fields,
    schedule, that its flow loads and takes the parameters given). Raises
    :class:`ProjectFileError` listing every problem of the file."""
    from ferroflow.cli.loader import FlowLoadError
    from ferroflow.errors import FerroflowError

    path = Path(path)
    data = _load_toml(path)
    root = path.resolve().parent
    unknown = [key for key in data if key not in _TOP_KEYS]
    if unknown:
        raise ProjectFileError([f"{path}: unknown key{'s' if len(unknown) > 1 else ''} "
                                f"{', '.join(map(repr, unknown))} (the file holds [[deployments]] entries)"])
    entries = data.get("deployments", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ProjectFileError([f"{path}: deployments must be an array of tables ([[deployments]] entries)"])
    if not entries:
        raise ProjectFileError([f"{path}: no deployments (declare each in a [[deployments]] entry)"])
    problems: list[str] = []
    checked: list[DeploymentEntry] = []
    seen: set[str] = set()
    for number, entry in enumerate(entries, 1):
        name = entry.get("name")
        where = f"{path}: deployment {name!r}" if isinstance(name, str) else f"{path}: deployment #{number}"
        if not isinstance(name, str):
            problems.append(f"{where}: name is required (a string)")
            continue
        if name in seen:
            problems.append(f"{where}: declared more than once")
            continue
        seen.add(name)
        try:
            checked.append(_check_entry(entry, root))
        except (ValueError, FlowLoadError, FerroflowError, ImportError, SyntaxError) as exc:
            problems.append(f"{where}: {' '.join(str(exc).split())}")
        except Exception as exc:  # the flow's module raised while loading
            problems.append(f"{where}: loading its flow raised {type(exc).__name__}: {' '.join(str(exc).split())}")
    if problems:
        raise ProjectFileError(problems)
    return checked
