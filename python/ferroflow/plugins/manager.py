"""The plugin manager: finds plugins, loads them one by one, keeps their registrations.

One global :class:`pluggy.PluginManager` is created lazily, the first time something
asks for it (:func:`get_plugin_manager`, :func:`get_executor`, :func:`list_plugins`),
and kept until :func:`reset_plugin_manager`. Creating it:

1. registers the built-in plugins (:data:`BUILTIN_PLUGINS`) with ``pm.register``;
2. loops over the entry points of group ``"ferroflow"`` and loads each one *itself*
   (rather than ``pm.load_setuptools_entrypoints``, which stops at the first failure),
   so that a plugin that fails to import, or whose hooks pluggy rejects, is recorded
   with its distribution, entry point and traceback, a warning is logged on the
   ``ferroflow.plugins`` logger, and the other plugins still load.

Registries (executors, result stores, serializers, notifiers, launchers) are built by calling
each plugin's registration hooks once, the first time a registry is needed, and rebuilt
only when the set of registered plugins changes.

Environment variables:

``FERROFLOW_DISABLE_PLUGINS``
    Comma-separated entry point names not to load (``dask,ray``; ``distribution:name``
    for one of two distributions sharing an entry point name), or ``all`` to load
    no third-party plugin at all. Built-in plugins are always registered.
``FERROFLOW_TRACE_PLUGINS``
    ``1`` to log each plugin load at INFO level (DEBUG otherwise). When the
    ``ferroflow.plugins`` logger has no handler anywhere, one writing to stderr is
    added so that the trace is seen.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import importlib
import importlib.metadata
import logging
import os
import sys
import threading
import traceback as traceback_module
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pluggy

from ferroflow.errors import PluginError, one_line
from ferroflow.plugins import contracts, hookspecs
from ferroflow.plugins.hookspecs import PROJECT_NAME

__all__ = [
    "BUILTIN_PLUGINS",
    "DISABLE_ENV",
    "ENTRY_POINT_GROUP",
    "KINDS",
    "TRACE_ENV",
    "PluginRecord",
    "Registration",
    "create_registered",
    "get_executor",
    "get_plugin_manager",
    "get_registry",
    "list_plugins",
    "registered_plugin",
    "reset_plugin_manager",
]

logger = logging.getLogger("ferroflow.plugins")

#: Entry point group a distribution uses to declare a ferroflow plugin.
ENTRY_POINT_GROUP = "ferroflow"

#: Modules registered as plugins by the manager itself, in this order, before any
#: third-party plugin. They go through the same hooks as third-party plugins.
BUILTIN_PLUGINS: tuple[str, ...] = (
    "ferroflow.executors.local",
    "ferroflow.executors.threads",
    "ferroflow.executors.processes",
    "ferroflow.results.serializers",
    "ferroflow.results.stores",
    "ferroflow.launchers.process",
    "ferroflow.launchers.fork",
)

#: Environment variable: entry point names not to load, comma-separated, or ``all``.
DISABLE_ENV = "FERROFLOW_DISABLE_PLUGINS"

#: Environment variable: ``1`` logs each plugin load at INFO level.
TRACE_ENV = "FERROFLOW_TRACE_PLUGINS"

#: Registry kind -> (registration hook name, singular noun used in messages).
KINDS: dict[str, tuple[str, str]] = {
    "executors": ("register_executors", "executor"),
    "result_stores": ("register_result_stores", "result store"),
    "serializers": ("register_serializers", "serializer"),
    "notifiers": ("register_notifiers", "notifier"),
    "launchers": ("register_launchers", "launcher"),
}

#: Name used when ``None`` is asked of a registry that has a default.
_DEFAULTS: dict[str, str] = {"executors": "local", "launchers": "process"}

BUILTIN_SOURCE = "built-in"
RUNTIME_SOURCE = "runtime"


@dataclasses.dataclass
class PluginRecord:
    """What is known about one plugin: where it came from and how loading went.

    Attributes:
        name: The entry point name for third-party plugins (``"dask"``); the module
            name for built-ins (``"ferroflow.executors.local"``); the registration
            name for plugins registered at runtime.
        source: ``"built-in"``, ``"<distribution> <version>"`` or ``"runtime"``.
        distribution: The distribution's name, or ``None`` (built-in, runtime).
        version: The distribution's version, or ``None``.
        entry_point: ``"name = value"`` for entry point plugins, else ``None``.
        status: ``"ok"``, ``"failed"`` (did not load, or a hook raised) or
            ``"disabled"`` (skipped because of ``FERROFLOW_DISABLE_PLUGINS``).
        registrations: Kind -> names this plugin registered, e.g.
            ``{"executors": ["dask"]}``; kinds it registered nothing for are absent.
        error: One line, ``"ExceptionType: message"``, when failed; else ``None``.
        traceback: The full formatted traceback of the failure, when there is one.
        warnings: Problems that did not stop the plugin (a name another plugin
            already registered, a plugin that implements no hook).
    """

    name: str
    source: str
    distribution: str | None = None
    version: str | None = None
    entry_point: str | None = None
    status: str = "ok"
    registrations: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    error: str | None = None
    traceback: str | None = None
    warnings: list[str] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the plugin loaded and all its hooks ran without error."""
        return self.status == "ok"

    def describe(self) -> str:
        """``'dask' (ferroflow-dask 0.2.0)``: the plugin's name and source, for messages."""
        return f"{self.name!r} ({self.source})"

    def qualified(self, name: str) -> str:
        """``"distribution:name"`` of a name this plugin registered (``"ferroflow:local"``
        for a built-in; the bare name for a plugin registered at runtime)."""
        distribution = PROJECT_NAME if self.source == BUILTIN_SOURCE else self.distribution
        return f"{distribution}:{name}" if distribution else name


@dataclasses.dataclass(frozen=True)
class Registration:
    """One name registered through a registration hook.

    Attributes:
        kind: ``"executors"``, ``"result_stores"``, ``"serializers"``, ``"notifiers"`` or ``"launchers"``.
        name: The public name (``"local"``).
        factory: Called as ``factory(**options)`` to build an instance.
        plugin: The name of the plugin that registered it.
    """

    kind: str
    name: str
    factory: Callable[..., Any]
    plugin: str
    #: The distribution of the plugin (``"ferroflow"`` for built-ins); None for a
    #: plugin registered at runtime.
    distribution: str | None = None
    version: str | None = None

    @property
    def qualified(self) -> str:
        """``"distribution:name"`` (``"ferroflow-dask:dask"``, ``"ferroflow:local"``);
        the bare name for a plugin registered at runtime (it has no distribution)."""
        return f"{self.distribution}:{self.name}" if self.distribution else self.name


class _Registries:
    """Registries built from one set of registered plugins."""

    def __init__(self) -> None:
        self.by_kind: dict[str, dict[str, Registration]] = {kind: {} for kind in KINDS}
        # "distribution:name" -> registration, every registration
        self.qualified: dict[str, dict[str, Registration]] = {kind: {} for kind in KINDS}
        # bare name -> the registrations of several distributions claiming it (none built in)
        self.ambiguous: dict[str, dict[str, list[Registration]]] = {kind: {} for kind in KINDS}
        # plugin name -> [(one-line error, traceback)], warnings, registrations
        self.errors: dict[str, list[tuple[str, str]]] = {}
        self.warnings: dict[str, list[str]] = {}
        self.registered: dict[str, dict[str, list[str]]] = {}


class _Loaded:
    """The global manager and what loading it found."""

    def __init__(self, pm: pluggy.PluginManager, records: list[PluginRecord]) -> None:
        self.pm = pm
        self.records = records  # built-in and entry point plugins, in load order
        self.registries: _Registries | None = None
        self.registries_key: tuple | None = None


_lock = threading.RLock()
_loaded: _Loaded | None = None


# ---------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------


def get_plugin_manager() -> pluggy.PluginManager:
    """Return the global plugin manager, creating and loading it on first use.

    Idempotent and thread-safe: later calls return the same manager until
    :func:`reset_plugin_manager`. A plugin that fails to load never makes this
    function raise; it is recorded (see :func:`list_plugins`) and logged.
    """
    return _get_loaded().pm


def reset_plugin_manager() -> None:
    """Forget the global plugin manager; the next use creates and loads a new one.

    Entry points are looked up again, so plugins installed (or disabled through
    ``FERROFLOW_DISABLE_PLUGINS``) since are taken into account. Meant for tests.
    """
    global _loaded
    with _lock:
        _loaded = None


def list_plugins() -> list[PluginRecord]:
    """Return a record per plugin: built-ins first, then entry points, then runtime ones.

    Running this builds the registries, so a plugin whose registration hook raises
    shows up as ``"failed"`` here with its traceback.
    """
    with _lock:
        loaded = _get_loaded()
        regs = _get_registries(loaded)
        records = [dataclasses.replace(r, registrations={}, warnings=list(r.warnings))
                   for r in loaded.records]
        known = {r.name for r in records if r.status == "ok"}
        for name, plugin in loaded.pm.list_name_plugin():
            if plugin is not None and name not in known:
                records.append(PluginRecord(name=name, source=RUNTIME_SOURCE))
        for record in records:
            if record.status != "ok":  # never registered: nothing to add
                continue
            record.registrations = {k: list(v) for k, v in regs.registered.get(record.name, {}).items()}
            record.warnings.extend(regs.warnings.get(record.name, []))
            errors = regs.errors.get(record.name)
            if errors and record.status == "ok":
                record.status = "failed"
                record.error = "; ".join(line for line, _ in errors)
                record.traceback = "\n".join(tb for _, tb in errors)
        return records


def get_registry(kind: str, *, qualified: bool = False) -> Mapping[str, Registration]:
    """Return name -> :class:`Registration` for one kind (``"executors"``, ...).

    By bare name: the names that resolve to one registration (a name several
    distributions claim is absent). With ``qualified=True``: every registration, by
    its ``"distribution:name"``. The mapping is a snapshot; it does not change when
    plugins are registered later.
    """
    if kind not in KINDS:
        raise ValueError(f"Unknown registry kind {kind!r}; expected one of {', '.join(KINDS)}")
    with _lock:
        regs = _get_registries(_get_loaded())
        return dict(regs.qualified[kind] if qualified else regs.by_kind[kind])


def get_executor(name_or_instance: Any = None, /, **options: Any) -> Any:
    """Return an executor.

    Args:
        name_or_instance: An executor instance (returned as is); an executor's
            registered name (``"local"``, ``"dask"``), built as
            ``factory(**options)``; a class, instantiated with ``options``; or
            ``None`` for the default, ``"local"``.
        **options: Keyword arguments for the executor's factory. Not allowed with
            an instance.

    Raises:
        PluginError: The name is unknown (the message lists the available
            executors, and says so when a plugin of that name failed to load or is
            disabled), or the factory raised.
    """
    return create_registered("executors", name_or_instance, options)


@contextlib.contextmanager
def registered_plugin(plugin: object, name: str | None = None) -> Iterator[str]:
    """Register ``plugin`` with the global manager for the ``with`` block only.

    Yields the name it was registered under; unregisters it on exit, even on error.
    Registries are rebuilt on next use, so the plugin's registrations are visible
    inside the block and gone after it::

        class FakePlugin:
            @hookimpl
            def register_executors(self, register):
                register("fake", FakeExecutor)

        with registered_plugin(FakePlugin()):
            assert isinstance(get_executor("fake"), FakeExecutor)

    Raises:
        PluginError: pluggy rejected the plugin (a hook implementation whose
            arguments are not in its hookspec, an unknown hook, a name in use).
    """
    pm = get_plugin_manager()
    with _lock:
        problem = _register_checked(pm, plugin, name)
        if problem is not None:
            raise PluginError(f"Cannot register plugin {name or plugin!r}: {problem[0]}")
        registered_name = pm.get_name(plugin)
    try:
        yield registered_name  # type: ignore[misc]  # registered, so named
    finally:
        with _lock:
            if pm.is_registered(plugin):
                pm.unregister(plugin)


# ---------------------------------------------------------------------------
# loading
# ---------------------------------------------------------------------------


def _get_loaded() -> _Loaded:
    global _loaded
    loaded = _loaded
    if loaded is not None:
        return loaded
    with _lock:
        if _loaded is None:
            _loaded = _load()
        return _loaded


def _trace_enabled() -> bool:
    return os.environ.get(TRACE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def _disabled_names() -> set[str]:
    raw = os.environ.get(DISABLE_ENV, "")
    return {part.strip().casefold() for part in raw.split(",") if part.strip()}


def _load() -> _Loaded:
    trace = _trace_enabled()
    level = logging.INFO if trace else logging.DEBUG
    if trace and not logger.hasHandlers():
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("ferroflow.plugins: %(message)s"))
        logger.addHandler(handler)
        if logger.getEffectiveLevel() > logging.INFO:
            logger.setLevel(logging.INFO)

    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    records: list[PluginRecord] = []

    for module_name in BUILTIN_PLUGINS:
        record = PluginRecord(name=module_name, source=BUILTIN_SOURCE)
        records.append(record)
        try:
            module = importlib.import_module(module_name)
        except BaseException as exc:  # a plugin must not break loading
            if isinstance(exc, KeyboardInterrupt):
                raise
            _fail(record, exc, f"built-in plugin {module_name!r} could not be imported")
            continue
        _register_record(pm, module, record, level)

    disabled = _disabled_names()
    builtin_modules = set(BUILTIN_PLUGINS)
    taken = {r.name for r in records}
    for ep in _entry_points():
        dist_name, version = _dist_of(ep)
        if ep.value.split(":", 1)[0].strip() in builtin_modules:
            # ferroflow's own entry point for a built-in: registered above already.
            continue
        record = PluginRecord(
            name=ep.name,
            source=f"{dist_name} {version}" if dist_name else "unknown distribution",
            distribution=dist_name,
            version=version,
            entry_point=f"{ep.name} = {ep.value}",
        )
        if ep.name in taken:
            # Two distributions, one entry point name: both load; the later one (in
            # the sorted order of _entry_points) is named "distribution:name".
            other = next(r for r in records if r.name == ep.name)
            record.name = f"{dist_name or 'unknown'}:{ep.name}"
            record.warnings.append(f"entry point name {ep.name!r} is also used by plugin {other.describe()}; "
                                   f"this plugin is named {record.name!r}")
        records.append(record)
        taken.add(record.name)
        if "all" in disabled or ep.name.casefold() in disabled or f"{dist_name}:{ep.name}".casefold() in disabled:
            record.status = "disabled"
            logger.log(level, "plugin %s disabled by %s", record.describe(), DISABLE_ENV)
            continue
        if record.warnings:
            logger.warning("ferroflow plugin %s: %s", record.describe(), record.warnings[-1])
        try:
            plugin = ep.load()
        except BaseException as exc:  # a plugin must not break loading
            if isinstance(exc, KeyboardInterrupt):
                raise
            _fail(record, exc, f"entry point {record.entry_point!r} could not be loaded")
            continue
        _register_record(pm, plugin, record, level)

    return _Loaded(pm, records)


def _entry_points() -> list[importlib.metadata.EntryPoint]:
    seen: set[tuple[str, str, str]] = set()
    result = []
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist_name, _ = _dist_of(ep)
        key = ((dist_name or "").casefold(), ep.name, ep.value)
        if key in seen:
            continue
        seen.add(key)
        result.append(ep)
    # Sorted, so that what depends on the order (which of two distributions sharing
    # an entry point name keeps it bare) is the same on every machine, whatever the
    # order of the folders on sys.path.
    result.sort(key=lambda ep: ((_dist_of(ep)[0] or "").casefold(), ep.name, ep.value))
    return result


def _dist_of(ep: importlib.metadata.EntryPoint) -> tuple[str | None, str | None]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return None, None
    try:
        return dist.metadata["Name"], dist.version
    except Exception:  # broken metadata must not break loading
        return getattr(dist, "name", None), None


def _fail(record: PluginRecord, exc: BaseException, context: str) -> None:
    record.status = "failed"
    record.error = one_line(exc)
    record.traceback = "".join(traceback_module.format_exception(type(exc), exc, exc.__traceback__))
    logger.warning("ferroflow plugin %s failed to load (%s): %s", record.describe(), context, record.error)


def _register_record(pm: pluggy.PluginManager, plugin: object, record: PluginRecord, level: int) -> None:
    problem = _register_checked(pm, plugin, record.name)
    if problem is not None:
        message, tb = problem
        record.status = "failed"
        record.error = message
        record.traceback = tb
        logger.warning("ferroflow plugin %s was rejected: %s", record.describe(), message)
        return
    if not pm.get_hookcallers(plugin):
        record.warnings.append(
            "implements no ferroflow hook (are its functions marked with "
            "ferroflow.plugins.hookimpl?)")
    logger.log(level, "loaded ferroflow plugin %s", record.describe())


def _register_checked(pm: pluggy.PluginManager, plugin: object,
                      name: str | None) -> tuple[str, str | None] | None:
    """Register ``plugin``; on refusal leave ``pm`` untouched and return (error, traceback)."""
    if plugin is None:
        return "PluginError: the entry point refers to None", None
    try:
        pm.register(plugin, name=name)
    except pluggy.PluginValidationError as exc:
        return (f"PluginValidationError: {exc}",
                "".join(traceback_module.format_exception(type(exc), exc, exc.__traceback__)))
    except ValueError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return f"PluginError: {first}", None
    # pluggy accepts implementations of unknown hooks ("pending"); a misspelled hook
    # name would silently do nothing, so reject it here.
    unknown = []
    for caller in pm.get_hookcallers(plugin) or []:
        if caller.has_spec():
            continue
        if all(impl.optionalhook for impl in caller.get_hookimpls() if impl.plugin is plugin):
            continue
        close = difflib.get_close_matches(caller.name, list(_hook_names()), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        unknown.append(f"{caller.name!r}{hint}")
    if unknown:
        pm.unregister(plugin)
        return (f"PluginValidationError: unknown hook {', '.join(unknown)}; "
                f"ferroflow hooks are: {', '.join(_hook_names())}"), None
    return None


def _hook_names() -> list[str]:
    return [name for name in hookspecs.__all__ if name not in {"hookspec", "PROJECT_NAME"}]


# ---------------------------------------------------------------------------
# registries
# ---------------------------------------------------------------------------


def _get_registries(loaded: _Loaded) -> _Registries:
    # (the plugin objects themselves, not their ids: the key holds them, so a plugin
    # unregistered and freed cannot leave its id to a new one and stale registries)
    key = tuple(loaded.pm.list_name_plugin())
    if loaded.registries is None or loaded.registries_key != key:
        loaded.registries = _build_registries(loaded.pm, loaded.records)
        loaded.registries_key = key
    return loaded.registries


def _build_registries(pm: pluggy.PluginManager, records: list[PluginRecord]) -> _Registries:
    """Call every registration hook and decide who owns each name (see
    ``docs/plugin-contracts.md``): every registration is reachable as
    ``distribution:name``; a bare name belongs to its only claimant, to the built-in
    when one claims it (later claimants are warned), and to nobody when several
    third-party distributions claim it (using it is an error listing them)."""
    regs = _Registries()
    own_version = getattr(sys.modules.get("ferroflow"), "__version__", None)
    origins = {r.name: ((PROJECT_NAME, own_version) if r.source == BUILTIN_SOURCE else (r.distribution, r.version))
               for r in records}
    plugins = [(name, plugin) for name, plugin in pm.list_name_plugin() if plugin is not None]
    for kind, (hook_name, noun) in KINDS.items():
        caller = getattr(pm.hook, hook_name)
        impls = caller.get_hookimpls()
        for plugin_name, plugin in plugins:  # registration order: built-ins first
            for impl in (i for i in impls if i.plugin is plugin):
                if impl.hookwrapper or impl.wrapper:
                    regs.warnings.setdefault(plugin_name, []).append(
                        f"{hook_name}: wrapper implementations are ignored for registration hooks")
                    continue
                pending = _call_registration(impl, hook_name, noun, plugin_name, regs)
                if pending is None:
                    continue
                distribution, version = origins.get(plugin_name, (None, None))
                for name, factory in pending:
                    registration = Registration(kind, name, factory, plugin_name, distribution, version)
                    _claim(regs, registration, noun)
    return regs


def _claim(regs: _Registries, new: Registration, noun: str) -> None:
    """Record ``new`` under its qualified name and decide who owns its bare name."""
    kind, name, plugin_name = new.kind, new.name, new.plugin
    same = regs.qualified[kind].get(new.qualified)
    if same is None and new.distribution is None:  # (runtime: no name of its own)
        same = regs.by_kind[kind].get(name)
    if same is not None:
        by = ("this plugin already" if same.plugin == plugin_name
              else f"plugin {same.plugin!r}" + (" of the same distribution" if new.distribution else ""))
        _warn(regs, plugin_name, f"{noun} {name!r} is already registered by {by}; kept the first")
        return
    regs.qualified[kind][new.qualified] = new
    regs.registered.setdefault(plugin_name, {}).setdefault(kind, []).append(name)
    claimants = regs.ambiguous[kind].get(name)
    if claimants is not None:  # already claimed by several distributions
        claimants.append(new)
        _warn(regs, plugin_name, _ambiguous_warning(noun, name, claimants))
        return
    owner = regs.by_kind[kind].get(name)
    if owner is None:
        regs.by_kind[kind][name] = new
    elif owner.distribution == PROJECT_NAME:  # built-ins register first
        _warn(regs, plugin_name, (
            f"{noun} {name!r} is also built in ({owner.qualified!r}), which keeps the bare name; "
            f"this one is {new.qualified!r}"))
    else:
        del regs.by_kind[kind][name]
        claimants = regs.ambiguous[kind][name] = [owner, new]
        message = _ambiguous_warning(noun, name, claimants)
        _warn(regs, owner.plugin, message)
        _warn(regs, plugin_name, message)


def _ambiguous_warning(noun: str, name: str, claimants: list[Registration]) -> str:
    return (f"{noun} {name!r} is registered by several distributions "
            f"({', '.join(repr(c.qualified) for c in claimants)}): use one of these names")


def _warn(regs: _Registries, plugin_name: str, message: str) -> None:
    regs.warnings.setdefault(plugin_name, []).append(message)
    logger.warning("ferroflow plugin %r: %s", plugin_name, message)


def _call_registration(impl: Any, hook_name: str, noun: str, plugin_name: str,
                       regs: _Registries) -> list[tuple[str, Callable[..., Any]]] | None:
    """Call one registration hookimpl; return what it registered, or None if it raised."""
    pending: list[tuple[str, Callable[..., Any]]] = []
    open_ = True

    def register(name: str, factory: Callable[..., Any]) -> None:
        if not open_:
            raise PluginError(f"plugin {plugin_name!r} called register() after its "
                              f"{hook_name} hook returned")
        if not isinstance(name, str) or not name.strip():
            raise PluginError(f"plugin {plugin_name!r}: a {noun} name must be a non-empty "
                              f"string, got {name!r}")
        if not callable(factory):
            raise PluginError(f"plugin {plugin_name!r}: the factory of {noun} {name!r} "
                              f"is not callable: {factory!r}")
        pending.append((name, factory))

    try:
        impl.function(**{arg: register for arg in impl.argnames})
    except Exception as exc:  # a plugin must not break the registry
        line = f"{hook_name} raised {one_line(exc)}"
        tb = "".join(traceback_module.format_exception(type(exc), exc, exc.__traceback__))
        regs.errors.setdefault(plugin_name, []).append((line, tb))
        logger.warning("ferroflow plugin %r failed: %s", plugin_name, line)
        return None
    finally:
        open_ = False
    return pending


def create_registered(kind: str, name_or_instance: Any, options: dict[str, Any]) -> Any:
    """An object of a registry ``kind`` (``"executors"``, ``"serializers"``,
    ``"result_stores"``, ``"notifiers"``, ``"launchers"``): what :func:`get_executor`,
    ``get_serializer``, ``get_result_store`` and ``get_notifier`` return.

    ``name_or_instance`` is a registered name (built as ``factory(**options)``), a
    class (instantiated with ``options``), an instance (returned as is; no options
    allowed), or None for the kind's default. Raises :class:`PluginError` for an
    unknown name (the message lists the registered ones), a factory that raised, or
    options given with an instance."""
    noun = KINDS[kind][1]
    if name_or_instance is None:
        default = _DEFAULTS.get(kind)
        if default is None:
            raise PluginError(f"No {noun} given and there is no default {noun}")
        name_or_instance = default
    if isinstance(name_or_instance, str):
        with _lock:
            loaded = _get_loaded()
            regs = _get_registries(loaded)
            registration = _resolve(kind, name_or_instance, regs)
            if registration is None:
                raise PluginError(_unknown_message(kind, name_or_instance, loaded, regs))
        try:
            built = registration.factory(**options)
        except Exception as exc:
            from ferroflow.descriptions import describe_value

            shown = f" with options {describe_value(options)}" if options else ""  # (secret-looking ones masked)
            raise PluginError(
                f"Could not create {noun} {registration.name!r} (from plugin "
                f"{registration.plugin!r}){shown}: {one_line(exc)}") from exc
        origin = (registration.qualified, registration.distribution, registration.version)
        contracts.tag_origin(built, *origin)
        if kind == "executors":  # (what a run's record says ran it: ferroflow.descriptions)
            from ferroflow.descriptions import tag_description

            own = registration.distribution in (None, PROJECT_NAME)  # built in, or registered at runtime
            tag_description(built, registration.name if own else registration.qualified, options)
        contracts.check_built(kind, built, registration.factory, origin)
        return built
    if isinstance(name_or_instance, type):
        return name_or_instance(**options)
    if options:
        raise PluginError(
            f"Options {sorted(options)} were given with an instance ({name_or_instance!r}); "
            f"options only apply to a registered name")
    return name_or_instance


def _resolve(kind: str, name: str, regs: _Registries) -> Registration | None:
    """The registration ``name`` (bare or ``distribution:name``) stands for; None when
    unknown. Raises :class:`PluginError` for a bare name several distributions claim."""
    if ":" in name:
        return regs.qualified[kind].get(name)
    claimants = regs.ambiguous[kind].get(name)
    if claimants:
        noun = KINDS[kind][1]
        listed = ", ".join(f"{c.qualified!r} ({c.distribution or 'plugin ' + repr(c.plugin)}"
                           f"{' ' + c.version if c.version else ''})" for c in claimants)
        raise PluginError(f"{noun.capitalize()} {name!r} is registered by several plugins: {listed}; "
                          f"ferroflow does not pick one: name the one you mean "
                          f"(e.g. {claimants[0].qualified!r})")
    return regs.by_kind[kind].get(name)


def _unknown_message(kind: str, name: str, loaded: _Loaded, regs: _Registries) -> str:
    noun = KINDS[kind][1]
    claimed = regs.ambiguous[kind]
    available = sorted(regs.by_kind[kind]) + sorted(c.qualified for cs in claimed.values() for c in cs)
    parts = [f"Unknown {noun} {name!r}."]
    names = sorted(regs.qualified[kind]) if ":" in name else sorted(regs.by_kind[kind]) + sorted(claimed)
    close = difflib.get_close_matches(name, names, n=1)
    if close:
        parts.append(f"Did you mean {close[0]!r}?")
    parts.append(f"Available {noun}s: {', '.join(available) if available else '(none)'}.")
    failed_others = []
    for record in loaded.records:
        same = record.name == name or record.name.rsplit(".", 1)[-1] == name
        if record.status == "failed":
            if same:
                parts.append(f"The plugin {record.describe()} failed to load: {record.error} "
                             f"(see `ferroflow plugins`).")
            else:
                failed_others.append(record.name)
        elif record.status == "disabled" and same:
            parts.append(f"The plugin {record.describe()} is disabled by {DISABLE_ENV}.")
    for plugin_name, errors in regs.errors.items():
        if plugin_name == name:
            parts.append(f"The plugin {plugin_name!r} failed: {errors[0][0]}.")
        elif plugin_name not in failed_others:
            failed_others.append(plugin_name)
    if failed_others:
        parts.append(f"Plugins that failed to load: {', '.join(failed_others)} "
                     f"(see `ferroflow plugins`).")
    return " ".join(parts)
