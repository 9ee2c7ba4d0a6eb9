"""``Result``: a store, a serializer and a location template, used together.

::

    result = Result("fsspec", base="file:///data/results",
                    location="{flow_name}/{task_name}/{map_index}.pkl")
    location = result.write_value(value, flow_name="etl", task_name="load", map_index=3)
    result.read_value(location)

A :class:`Result` holds no value (unlike Prefect 1's, whose ``write`` returns a new
``Result`` carrying one): it is configuration, shared by every run of a task, and safe
to use from several threads. Locations are templated with :meth:`str.format` from the
keyword arguments given (the engine passes the run's context, the flow's parameters and
the task's inputs, see :func:`template_context`), so ``{map_index}``,
``{parameters[n]}``, ``{scheduled_start_time:%Y-%m-%d}`` all work.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ferroflow.errors import one_line
from ferroflow.plugins.contracts import check_dumped, check_read
from ferroflow.results.errors import ResultError, ResultLocationError, SerializationError
from ferroflow.results.serializers import Serializer, get_serializer
from ferroflow.results.stores import ResultStore, _looks_like_url, _wrap, check_location, get_result_store

__all__ = ["DEFAULT_LOCATION", "DEFAULT_TASK_LOCATION", "DefaultLocation", "Result", "LocationTemplate",
           "template_context"]

#: The location of a mapped child's value when a :class:`Result` is given none (see
#: :class:`DefaultLocation`). The engine provides every key it uses.
DEFAULT_LOCATION = "{flow_name}/{flow_run_id}/{task_slug}/{map_index}.result"
#: The location of the value of a task run that is not a mapped child (its
#: ``map_index`` is None) when a :class:`Result` is given none.
DEFAULT_TASK_LOCATION = "{flow_name}/{flow_run_id}/{task_slug}.result"


def template_context(context: Mapping[str, Any] | None = None, *,
                     parameters: Mapping[str, Any] | None = None,
                     inputs: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The keys a location template is formatted with, merged as Prefect 1 does.

    Parameters first, then the run context, then the task's inputs (a later source
    wins on a shared name); ``parameters`` is also available as a whole, so both
    ``{n}`` and ``{parameters[n]}`` work.
    """
    merged: dict[str, Any] = dict(parameters or {})
    merged.update(context or {})
    if parameters is not None:
        merged.setdefault("parameters", parameters)
    merged.update(inputs or {})
    return merged


class LocationTemplate:
    """A parsed location template: a ``str.format`` string, or a callable.

    A string is checked when the template is created (balanced braces, named fields
    only); a callable is called as ``template(**context)`` and must return a str.

    A string starting with ``/`` is an absolute path (``"/data/out/{task_name}.pkl"``):
    the locations it gives are absolute too, for a store that takes them. A relative
    string never gives an absolute location (a parameter ``"/etc"`` in ``"{p}/x"`` is
    refused); a callable may return either.

    Attributes:
        template: The string or callable given.
        fields: The root names the template refers to (``{"task_name",
            "parameters"}`` for ``"{task_name}/{parameters[n]}"``); ``None`` for a
            callable, which may use any key. The engine can look at it to build only
            the keys a template needs.
        absolute: True for a string starting with ``/``, False for another string,
            None for a callable.
    """

    __slots__ = ("template", "fields", "absolute", "_expressions")

    def __init__(self, template: str | Callable[..., str]) -> None:
        self.template = template
        if callable(template) and not isinstance(template, str):
            self.fields: frozenset[str] | None = None
            self.absolute: bool | None = None
            self._expressions: tuple[str, ...] = ()
            return
        if not isinstance(template, str):
            raise ResultLocationError(
                f"A result location must be a template string or a callable, got {template!r}",
                template=None)
        expressions = []
        try:
            for _, field, spec, _ in string.Formatter().parse(template):
                if field is None:
                    continue
                root = _root(field)
                if not root or root.isdigit():
                    raise ResultLocationError(
                        f"Location template {template!r} has a positional field "
                        f"{{{field}}}; use names such as {{task_name}} or {{map_index}}",
                        template=template)
                expressions.append(field)
                if spec and "{" in spec:
                    for _, inner, _, _ in string.Formatter().parse(spec):
                        if inner is not None:
                            expressions.append(inner)
        except ValueError as exc:
            raise ResultLocationError(f"Location template {template!r} is malformed: {exc}",
                                      template=template) from None
        self._expressions = tuple(expressions)
        self.fields = frozenset(_root(e) for e in expressions)
        self.absolute = template.startswith("/")

    def fixed_directory(self) -> str | None:
        """The directory an absolute string template always starts with: its text
        up to the last ``/`` before the first field (``"/data/out"`` for
        ``"/data/out/{task_name}.pkl"``; ``"/"`` at least). None when not absolute."""
        text = self.template
        if not self.absolute or not isinstance(text, str):
            return None
        literal = text[:text.find("{")] if "{" in text else text
        return literal[:literal.rfind("/")] or "/"

    def format(self, context: Mapping[str, Any]) -> str:
        """Format the template with ``context`` and check the location it gives.

        Raises:
            ResultLocationError: A key is missing (naming the template, the key and
                the keys available), formatting failed, or the location is invalid
                (``..``, absolute from a relative template; see
                :func:`~ferroflow.results.stores.check_location`).
        """
        template = self.template
        if not isinstance(template, str):  # a callable (``fields`` is None)
            try:
                location = template(**context)
            except Exception as exc:  # the user's callable
                raise ResultLocationError(
                    f"Location callable {_name(template)} raised {one_line(exc)}",
                    template=_name(template)) from exc
            if not isinstance(location, str):
                raise ResultLocationError(
                    f"Location callable {_name(template)} returned {location!r}, not a str",
                    template=_name(template))
        else:
            try:
                location = template.format_map(context)
            except Exception as exc:
                raise self._explain(context, exc) from None
        try:
            return check_location(location, absolute=self.absolute is not False)
        except ResultLocationError as exc:
            exc.message += f" (from location template {_name(template)})"
            exc.template = _name(template)
            raise

    def _explain(self, context: Mapping[str, Any], exc: Exception) -> ResultLocationError:
        template = str(self.template)
        available = ", ".join(sorted(map(str, context))) or "(none)"
        for expression in self._expressions:
            root = _root(expression)
            if root not in context:
                return ResultLocationError(
                    f"Location template {template!r} needs key {root!r}, which was not given; "
                    f"available keys: {available}", template=template, key=root)
            try:
                string.Formatter().get_field(expression, (), context)
            except Exception as inner:
                key = inner.args[0] if isinstance(inner, KeyError) and inner.args else None
                what = f"key {key!r} is missing" if key is not None else one_line(inner)
                return ResultLocationError(
                    f"Location template {template!r}: in {{{expression}}}, {what}",
                    template=template, key=None if key is None else str(key))
        return ResultLocationError(f"Location template {template!r} cannot be formatted: "
                                   f"{one_line(exc)}", template=template)

    def __repr__(self) -> str:
        return f"LocationTemplate({_name(self.template)})"


class DefaultLocation(LocationTemplate):
    """The location template of a :class:`Result` given none: :data:`DEFAULT_LOCATION`
    for a mapped child, :data:`DEFAULT_TASK_LOCATION` for a task run that is not one
    (a ``map_index`` of None, or none given), so no location ends in ``None.result``;
    both under ``directory`` when given (a :class:`~ferroflow.results.LocalResult`'s)."""

    __slots__ = ("task",)

    def __init__(self, directory: str = "") -> None:
        prefix = directory.replace("{", "{{").replace("}", "}}").rstrip("/") + "/" if directory else ""
        super().__init__(prefix + DEFAULT_LOCATION)
        self.task = LocationTemplate(prefix + DEFAULT_TASK_LOCATION)

    def format(self, context: Mapping[str, Any]) -> str:
        if context.get("map_index") is None:
            return self.task.format(context)
        return super().format(context)


def _root(field: str) -> str:
    end = len(field)
    for sep in (".", "["):
        pos = field.find(sep)
        if pos != -1:
            end = min(end, pos)
    return field[:end]


def _name(template: Any) -> str:
    if isinstance(template, str):
        return repr(template)
    return getattr(template, "__qualname__", None) or repr(template)


class Result:
    """Where and how a task's return values are kept: a store, a serializer, a location.

    Args:
        store: A registered result store name (``"memory"``, ``"fsspec"``, a
            plugin's), a store instance, or a URL or path (``"file:///data/r"``,
            ``"/data/r"``, ``"s3://bucket/r"``: an ``fsspec`` store on it). Default:
            ``"fsspec"`` when ``base`` is given, else a new ``"memory"`` store.
        base: The store's base URL or path (given to its factory as ``base_url``).
        serializer: A registered serializer name (``"cloudpickle"``, the default;
            ``"json"``; a plugin's) or a serializer instance.
        location: A template such as ``"{flow_name}/{task_name}/{map_index}.pkl"``
            or a callable ``location(**context) -> str`` (or a :class:`LocationTemplate`).
            Default :class:`DefaultLocation`: :data:`DEFAULT_LOCATION` for a mapped
            child, :data:`DEFAULT_TASK_LOCATION` for another task run. An absolute path
            (``"/data/out/{task_name}.pkl"``) is written there: it needs a store of local files, and without ``store``
            or ``base`` one is made on the directory the template starts with.
        store_options: More keyword arguments for the store's factory (credentials,
            ``fsync=True``...).

    Raises:
        PluginError: Unknown store or serializer name, or its factory failed.
        ResultLocationError: ``location`` is malformed, or absolute with a store that
            does not take absolute paths.

    Attributes:
        store: The :class:`~ferroflow.results.ResultStore`.
        serializer: The :class:`~ferroflow.results.Serializer`.
        template: The :class:`LocationTemplate`.
    """

    def __init__(self, store: Any = None, *, base: str | None = None, serializer: Any = None,
                 location: str | Callable[..., str] | LocationTemplate | None = None,
                 store_options: Mapping[str, Any] | None = None) -> None:
        if location is None:
            location = DefaultLocation()
        self.template = location if isinstance(location, LocationTemplate) else LocationTemplate(location)
        options = dict(store_options or {})
        absolute = self.template.absolute
        if absolute and store is None and base is None:
            base = self.template.fixed_directory()
        if base is not None:
            options["base_url"] = base
            if store is None:
                store = "fsspec"
        if absolute and (store == "fsspec" or (isinstance(store, str) and _looks_like_url(store))):
            options.setdefault("absolute_paths", True)
        self.store: ResultStore = get_result_store(store, **options)
        if absolute and not getattr(self.store, "absolute_paths", False):
            raise ResultLocationError(
                f"Location template {_name(self.template.template)} is an absolute path, which store "
                f"{self.store!r} does not take: leave store= out, or give a directory of local files "
                f"(base='/some/dir', or LocalResult(dir=...))", template=_name(self.template.template))
        self.serializer: Serializer = get_serializer(serializer)

    @property
    def location(self) -> str | Callable[..., str]:
        """The location template (or callable) as given."""
        return self.template.template

    # -- locations ------------------------------------------------------------------

    def format(self, /, **context: Any) -> str:
        """The location for ``context``: the template formatted and checked.

        Raises:
            ResultLocationError: A key is missing (the message names the template and
                the key), or the location is invalid.
        """
        return self.template.format(context)

    def exists(self, /, **context: Any) -> bool:
        """Whether a complete record is at the location formatted from ``context``
        (the ``target=`` check: an existing target means the task is Cached).

        Raises:
            ResultLocationError: As :meth:`format`.
            ResultStoreError: The store could not tell.
        """
        location = self.template.format(context)
        try:
            return self.store.exists(location)
        except ResultError:
            raise
        except Exception as exc:  # a third-party store's own error
            raise _wrap(self.store, exc, location, "check") from exc

    # -- one value ------------------------------------------------------------------

    def write_value(self, value: Any, /, **context: Any) -> str:
        """Serialize ``value``, write it at the location formatted from ``context``
        and return that location.

        Raises:
            ResultLocationError: As :meth:`format`; nothing is serialized or written.
            SerializationError: ``value`` cannot be serialized (naming its type and
                the serializer); nothing is written.
            ResultStoreError: The write failed (naming errno, URL and store); nothing
                partial is left at the location.
        """
        return self.write_to(self.template.format(context), value)

    def write_to(self, location: str, value: Any) -> str:
        """Serialize ``value`` and write it at ``location`` (no templating); return it.

        Raises:
            SerializationError, ResultStoreError, ResultLocationError: As
            :meth:`write_value`.
        """
        check_location(location, absolute=getattr(self.store, "absolute_paths", False))
        data = self._dumps(value, location)
        try:
            self.store.write(location, data)
        except ResultError:
            raise
        except Exception as exc:
            raise _wrap(self.store, exc, location, "write") from exc
        return location

    def read_value(self, location: str) -> Any:
        """Read the record at ``location`` and deserialize it.

        Raises:
            ResultNotFound: Nothing is there.
            ResultCorrupt: The record is truncated or altered.
            ResultStoreError: The read failed otherwise.
            SerializationError: The bytes could not be deserialized (naming the
                serializer and the location).
        """
        try:
            data = self.store.read(location)
        except ResultError:
            raise
        except Exception as exc:
            raise _wrap(self.store, exc, location, "read") from exc
        return self._loads(check_read(self.store, data), location)

    # -- many values ----------------------------------------------------------------

    def write_many(self, values: Sequence[Any], contexts: Sequence[Mapping[str, Any]],
                   /, **common: Any) -> list[str | ResultError]:
        """Write many values (the children of a mapped task) in one batch.

        Item ``i`` is formatted with ``{**common, **contexts[i]}`` (typically
        ``common`` holds the flow and task keys and ``contexts[i]`` is
        ``{"map_index": i}``), serialized with the serializer's ``dumps_many`` and
        written with the store's ``write_many``.

        Returns:
            One entry per value, in order: its location, or the
            :class:`~ferroflow.results.ResultError` (``ResultLocationError``,
            ``SerializationError`` or ``ResultStoreError``) that kept it from being
            written. Never raises for one item's failure.

        Raises:
            ValueError: ``values`` and ``contexts`` differ in length.
        """
        if len(values) != len(contexts):
            raise ValueError(f"write_many: {len(values)} values but {len(contexts)} contexts")
        out: list[str | ResultError] = []
        template = self.template
        for context in contexts:
            merged = dict(common)
            merged.update(context)
            try:
                out.append(template.format(merged))
            except ResultLocationError as exc:
                out.append(exc)
        todo = [(i, loc) for i, loc in enumerate(out) if isinstance(loc, str)]
        if len(todo) == len(values):
            blobs = self._dumps_many(values)
        else:
            blobs = self._dumps_many([values[i] for i, _ in todo])
        items: list[tuple[str, bytes]] = []
        positions: list[int] = []
        for (i, location), blob in zip(todo, blobs, strict=True):
            if isinstance(blob, SerializationError):
                blob.location = location
                out[i] = blob
            else:
                items.append((location, check_dumped(self.serializer, blob)))
                positions.append(i)
        if items:
            try:
                errors = self.store.write_many(items)
            except Exception as exc:  # a store must not raise here; be safe
                errors = {k: _wrap(self.store, exc, loc, "write") for k, (loc, _) in enumerate(items)}
            for k, error in errors.items():
                out[positions[k]] = error
        return out

    def read_many(self, locations: Iterable[str]) -> list[Any]:
        """Read and deserialize many records.

        Returns:
            One entry per location: the value, or the
            :class:`~ferroflow.results.ResultError` that kept it from being read
            (tell them apart with ``isinstance(entry, ResultError)``).
        """
        locations = list(locations)
        try:
            blobs = self.store.read_many(locations)
        except Exception as exc:
            return [_wrap(self.store, exc, loc, "read") for loc in locations]
        out: list[Any] = []
        for location, blob in zip(locations, blobs, strict=True):
            if isinstance(blob, ResultError):
                out.append(blob)
                continue
            try:
                out.append(self._loads(check_read(self.store, blob), location))
            except SerializationError as exc:
                out.append(exc)
        return out

    # -- serialization --------------------------------------------------------------

    def _dumps(self, value: Any, location: str) -> bytes:
        name = getattr(self.serializer, "name", "") or type(self.serializer).__name__
        try:
            data = self.serializer.dumps(value)
        except SerializationError as exc:
            exc.location = location
            raise
        except Exception as exc:  # a third-party serializer's own error
            error = SerializationError.for_value(name, value, exc)
            error.location = location
            raise error from exc
        return check_dumped(self.serializer, data)

    def _dumps_many(self, values: Sequence[Any]) -> list[bytes | SerializationError]:
        many = getattr(self.serializer, "dumps_many", None)
        if many is not None:
            return many(values)
        return Serializer.dumps_many(self.serializer, values)

    def _loads(self, data: bytes, location: str) -> Any:
        name = getattr(self.serializer, "name", "") or type(self.serializer).__name__
        try:
            return self.serializer.loads(data)
        except SerializationError as exc:
            raise SerializationError(exc.serializer, "deserialize", exc.reason,
                                     location=location) from exc
        except Exception as exc:
            raise SerializationError(name, "deserialize", one_line(exc),
                                     location=location) from exc

    def __repr__(self) -> str:
        return (f"Result(store={self.store!r}, serializer={self.serializer!r}, "
                f"location={_name(self.location)})")

