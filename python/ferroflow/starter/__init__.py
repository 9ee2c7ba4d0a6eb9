"""The plugin starter kit: a ready-to-install plugin package for a new author.

``ferroflow plugin new KIND NAME [DIR]`` (:mod:`ferroflow.cli.plugin_new`) writes, for
``KIND`` one of :data:`KINDS` and ``NAME`` such as ``my-pool``::

    ferroflow-my-pool/
        pyproject.toml                  distribution ferroflow-my-pool, entry point my-pool = "ferroflow_my_pool"
        README.md  .gitignore
        src/ferroflow_my_pool/__init__.py   a working minimal plugin of that kind, with @hookimpl
        tests/conftest.py               fails at once, naming the install command, when not installed
        tests/test_conformance.py       the kind's conformance kit, and the entry point resolved by name

The files are rendered from ``templates/`` (package data, shipped in the wheel) by
:func:`package_files`; :func:`write_package` puts them on disk. Both refuse what they
cannot do safely with :class:`StarterError`, whose message is meant for the user.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import keyword
import os
import re
import secrets
import shutil
import string
from importlib import resources
from pathlib import Path

from ferroflow.errors import FerroflowError

__all__ = ["KINDS", "Kind", "StarterError", "check_name", "package_files", "write_package"]


class StarterError(FerroflowError, ValueError):
    """A plugin kind, name, version or directory the starter kit refuses; the message
    says why and what to do instead."""


@dataclasses.dataclass(frozen=True)
class Kind:
    """One kind of plugin the starter writes."""

    #: The registry kind of :mod:`ferroflow.plugins.manager` (``"executors"``).
    registry: str
    #: The hook the plugin implements (``"register_executors"``).
    hook: str
    #: The conformance kit: module and class.
    kit_module: str
    kit_class: str
    #: Appended to the CamelCase name to name the plugin's class (``MyPoolExecutor``).
    suffix: str
    #: In sentences: "executor", "result store".
    noun: str


#: The kinds, by the word the command takes.
KINDS: dict[str, Kind] = {
    "executor": Kind("executors", "register_executors", "ferroflow.testing.conformance", "ExecutorConformance",
                     "Executor", "executor"),
    "notifier": Kind("notifiers", "register_notifiers", "ferroflow.testing.notifiers", "NotifierConformance",
                     "Notifier", "notifier"),
    "result-store": Kind("result_stores", "register_result_stores", "ferroflow.testing.result_stores",
                         "ResultStoreConformance", "Store", "result store"),
    "serializer": Kind("serializers", "register_serializers", "ferroflow.testing.serializers",
                       "SerializerConformance", "Serializer", "serializer"),
}

#: Longest NAME accepted (the distribution adds "ferroflow-").
MAX_NAME = 40

# ASCII only (re.ASCII and explicit ranges): a look-alike letter from another alphabet
# must not pass for a Latin one. Single dashes between parts; no underscores, so that a
# name has exactly one spelling (pip treats "my_pool" and "my-pool" as one distribution).
_NAME = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*", re.ASCII)
_RELEASE = re.compile(r"\d+(?:\.\d+)*", re.ASCII)


def check_name(name: str, kind: str | None = None) -> str:
    """Return the module name for plugin ``name`` (``"my-pool"`` -> ``"ferroflow_my_pool"``).

    Raises:
        StarterError: ``name`` is not lowercase ASCII letters, digits and single dashes
            starting with a letter, is longer than :data:`MAX_NAME`, starts with
            ``ferroflow``, is a Python keyword, or (with ``kind``) is the name of a
            plugin of that kind already installed (built in, which would keep the bare
            name, or from another distribution, which would make it ambiguous), or
            ``ferroflow-NAME`` is a distribution installed already.
    """
    shown = ascii(name)  # escapes show what a terminal would hide (look-alikes, controls)
    if not isinstance(name, str) or not name:
        raise StarterError("the plugin name is empty; give one such as my-pool or jsonl")
    if len(name) > MAX_NAME:
        raise StarterError(f"the plugin name {shown} is longer than {MAX_NAME} characters")
    if not _NAME.fullmatch(name):
        raise StarterError(
            f"the plugin name {shown} is not accepted: use lowercase ASCII letters, digits and single dashes, "
            f"starting with a letter (such as my-pool or jsonl)")
    if name == "ferroflow" or name.startswith("ferroflow-"):
        raise StarterError(f"give the plugin name without the ferroflow- prefix (the distribution is called "
                           f"ferroflow-NAME): {name.removeprefix('ferroflow-')!r}")
    if keyword.iskeyword(name.replace("-", "_")):
        raise StarterError(f"the plugin name {shown} is a Python keyword; pick another")
    if kind is not None and kind in KINDS:
        from ferroflow.plugins import get_registry
        from ferroflow.plugins.hookspecs import PROJECT_NAME

        owners = sorted(qualified.rpartition(":")[0] for qualified in get_registry(KINDS[kind].registry, qualified=True)
                        if qualified.rpartition(":")[2] == name)
        if PROJECT_NAME in owners:
            raise StarterError(f"{name!r} is the name of ferroflow's built-in {kind}; a plugin would only be "
                               f"reachable as ferroflow-{name}:{name}. Pick another name")
        if owners:
            raise StarterError(f"{name!r} is the name of a {kind} of {', '.join(owners)}, installed here; "
                               f"a second one would make the name ambiguous. Pick another name")
        try:
            installed = importlib.metadata.version(f"ferroflow-{name}")
        except importlib.metadata.PackageNotFoundError:
            pass
        else:
            raise StarterError(f"a distribution ferroflow-{name} ({installed}) is already installed here; pick "
                               f"another name, or uninstall it first")
    return "ferroflow_" + name.replace("-", "_")


def _requirement_version(version: str) -> str:
    match = _RELEASE.match(version)
    if match is None:
        raise StarterError(f"ferroflow's own version {version!r} is not a release number; "
                           f"the starter cannot pin the package to it")
    return match.group(0)


def _template(*parts: str) -> string.Template:
    return string.Template(resources.files(__name__).joinpath("templates", *parts).read_text(encoding="utf-8"))


def package_files(kind: str, name: str, ferroflow_version: str) -> dict[str, str]:
    """The starter package's files, relative path -> text, for a plugin of ``kind``
    (a key of :data:`KINDS`) named ``name``, requiring ``ferroflow>=ferroflow_version``
    (its release part: ``0.2.0.dev1`` gives ``0.2.0``).

    Raises:
        StarterError: an unknown kind, a refused name (:func:`check_name`), a version
            without a release number.
    """
    if kind not in KINDS:
        raise StarterError(f"unknown plugin kind {ascii(kind)}; expected one of {', '.join(KINDS)}")
    spec = KINDS[kind]
    module = check_name(name, kind)
    values = {
        "name": name,
        "distribution": f"ferroflow-{name}",
        "module": module,
        "cls": "".join(part.capitalize() for part in name.split("-")) + spec.suffix,
        "kind": kind,
        "noun": spec.noun,
        "hook": spec.hook,
        "registry": spec.registry,
        "kit": spec.kit_class,
        "kit_module": spec.kit_module,
        "ferroflow_version": _requirement_version(ferroflow_version),
    }
    # string.Template rather than Jinja2: the templates are Python and TOML files whose
    # braces ({...} dicts, f-strings) must stay as written, they need no logic (a
    # directory per kind), and substitute() raises on a placeholder without a value.
    layout = {
        "pyproject.toml": ("common", "pyproject.toml.tmpl"),
        "README.md": ("common", "README.md.tmpl"),
        ".gitignore": ("common", "gitignore.tmpl"),
        f"src/{module}/__init__.py": (kind, "__init__.py.tmpl"),
        "tests/conftest.py": ("common", "conftest.py.tmpl"),
        "tests/test_conformance.py": (kind, "test_conformance.py.tmpl"),
    }
    return {path: _template(*source).substitute(values) for path, source in layout.items()}


def write_package(files: dict[str, str], directory: str | os.PathLike[str], *, force: bool = False) -> Path:
    """Write ``files`` (relative path -> text) into ``directory``; return its resolved path.

    A directory that does not exist is made whole in a temporary sibling and renamed
    into place, so that an interrupted command leaves no half package (a process
    killed meanwhile leaves at most that hidden sibling, ``.NAME.<hex>.tmp``). An existing
    empty directory is filled; a non-empty one only with ``force``, which replaces the
    starter's own files (each atomically) and leaves every other file alone.

    Raises:
        StarterError: ``directory`` is a file, or not empty without ``force``; a path
            of the package inside it is a symbolic link (never written through) or
            not a file; the package cannot be written (the OS error, one line).
    """
    target = Path(directory).resolve()
    try:
        if target.exists():
            if not target.is_dir():
                raise StarterError(f"{target} exists and is not a directory")
            if any(target.iterdir()) and not force:
                raise StarterError(f"{target} exists and is not empty; give another directory, or --force to "
                                   f"replace the starter's files in it")
            for relative in files:  # all of them before the first write
                _check_inside(target, relative)
            for relative, text in files.items():
                _write_inside(target, relative, text)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            staging = target.parent / f".{target.name}.{secrets.token_hex(6)}.tmp"
            staging.mkdir()  # not mkdtemp: the package's directories get the modes of the user's umask
            try:
                for relative, text in files.items():
                    _write_inside(staging, relative, text)
                os.rename(staging, target)  # fails when another writer made a non-empty target meanwhile
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
    except OSError as exc:
        raise StarterError(f"cannot write the package into {target}: {exc.strerror or exc}") from exc
    return target


def _check_inside(root: Path, relative: str) -> Path:
    """``root / relative``, refused when it or a directory on the way to it is a
    symbolic link or not what it must be (a directory, a file)."""
    path = root
    parts = Path(relative).parts
    for i, part in enumerate(parts):
        path = path / part
        if path.is_symlink():
            raise StarterError(f"{path} is a symbolic link; the starter does not write through links")
        if not path.exists():
            continue
        if i < len(parts) - 1 and not path.is_dir():
            raise StarterError(f"{path} exists and is not a directory")
        if i == len(parts) - 1 and not path.is_file():
            raise StarterError(f"{path} exists and is not a file")
    return path


def _write_inside(root: Path, relative: str, text: str) -> None:
    path = _check_inside(root, relative)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written beside its place and renamed over it: a reader sees the old file or the new one.
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # mode 0666 less the umask, as open() gives
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
