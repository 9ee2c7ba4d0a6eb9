"""Tasks: the units of work a flow runs.

Subclass :class:`Task` and implement ``run()``, or decorate a function with
:func:`task`. Inside ``with Flow(...)``, *calling* a task returns a copy bound to its
inputs; tasks and plain values mix freely::

    @task
    def add(x, y=1):
        return x + y

    with Flow("sums") as flow:
        a = add(1)          # a copy of `add`, bound to x=1
        b = add(a, y=10)    # the result of `a` flows into x
        c = add.map([1, 2, 3])

Task options (retries, trigger, tags...) are declared once, in ``TASK_OPTIONS``: that
table says how each option is normalised, validated and copied, and its default.
``Task.__init__`` and ``Task.copy(**task_args)`` both go through it, so a new option is
one table entry plus one keyword argument. The defaults are class attributes of
:class:`Task`: a task's ``__dict__`` holds only the options that differ from them, so
the copy each call makes copies a few keys (``benches/plain_dags.py``'s ``build``).
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import functools
import inspect
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    NamedTuple,
)

from ferroflow import triggers
from ferroflow.core import prefect3_options, result_options
from ferroflow.retries import MAX_RETRIES
from ferroflow.runtime.context import CURRENT_EAGER_RUN

if TYPE_CHECKING:  # pragma: no cover
    from ferroflow.core.flow import Flow

__all__ = [
    "Task",
    "FunctionTask",
    "task",
    "tags",
    "active_flow",
    "TASK_OPTIONS",
    "RESERVED_ARGUMENTS",
    "MAX_RETRIES_LIMIT",
]

_object_new = object.__new__

#: Names ``run()`` may not use: ``Task.__call__``/``bind``/``map`` take them.
RESERVED_ARGUMENTS = ("upstream_tasks", "mapped", "task_args", "flow")

#: ferroflow keeps retry counters in one byte per task run.
MAX_RETRIES_LIMIT = MAX_RETRIES

# The flow that `with Flow(...)` made active, and the tags of enclosing `tags(...)`.
_ACTIVE_FLOW: contextvars.ContextVar[Flow | None] = contextvars.ContextVar(
    "ferroflow_active_flow", default=None
)
_CONTEXT_TAGS: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar(
    "ferroflow_context_tags", default=frozenset()
)
#: Whether a tags() block was ever entered in this process: until then _CONTEXT_TAGS
#: holds its default in every context, and a call need not look it up.
_tags_blocks_seen = False


def active_flow() -> Flow | None:
    """The flow of the innermost enclosing ``with Flow(...)`` block, or None."""
    return _ACTIVE_FLOW.get()


@contextlib.contextmanager
def tags(*names: str) -> Iterator[None]:
    """Add ``names`` to the tags of every task created, copied or bound inside the block.

    ::

        with Flow("f") as flow, tags("db"):
            load()          # tagged "db"
    """
    global _tags_blocks_seen
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"tags() takes tag names (str), got {name!r}")
    _tags_blocks_seen = True
    token = _CONTEXT_TAGS.set(_CONTEXT_TAGS.get() | frozenset(names))
    try:
        yield
    finally:
        _CONTEXT_TAGS.reset(token)


# --------------------------------------------------------------------------- run() signature


class _RunInfo:
    """What ferroflow needs to know about a ``run`` callable, computed once. (A class
    with slots: a call reads its fields at the speed of instance attributes.)"""

    __slots__ = ("func", "signature", "positional", "names", "required", "var_keyword", "nout",
                 "positional_counts", "var_positional")

    def __init__(
        self,
        func: Any,
        signature: inspect.Signature,
        positional: tuple[str, ...],
        names: frozenset[str],
        required: tuple[str, ...],
        var_keyword: str | None,
        nout: int | None,
        positional_counts: frozenset[int],
        var_positional: str | None = None,
    ):
        self.func = func
        self.signature = signature
        self.positional = positional  # names that may be passed by position, in order
        self.names = names  # every name that may be passed by keyword
        self.required = required  # names without a default
        self.var_keyword = var_keyword  # name of **kwargs, if any
        self.nout = nout
        # The numbers of positional arguments that alone bind ``run()``'s arguments:
        # from the number of required names (a prefix of ``positional``) to all of
        # ``positional``; none when a keyword-only argument is required.
        self.positional_counts = positional_counts
        # name of *args, if any (a function task's, which runs only in eager flows)
        self.var_positional = var_positional


def _inspect_run(func: Any, owner: str, drop_first: bool, var_positional: bool = False) -> _RunInfo:
    """Inspect and validate ``func`` as a task's ``run``; ``owner`` names the task
    (or task class) in error messages. ``var_positional``: ``*args`` is allowed (a
    function task: eager flows pass them; a deferred flow refuses the task when it is
    called, see :meth:`Task._graph_arguments`)."""
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{owner}: cannot read the signature of {func!r} ({exc}); builtin "
            "and C functions often cannot be inspected: wrap it in a Python function"
        ) from None
    params = list(signature.parameters.values())
    if drop_first and params:
        params = params[1:]
        signature = signature.replace(parameters=params)
    star = next((p.name for p in params if p.kind is inspect.Parameter.VAR_POSITIONAL), None)
    if star is not None and not var_positional:
        raise ValueError(
            f"{owner}: run() may not take *args, because ferroflow passes every "
            "input by keyword; take **kwargs instead"
        )
    positional_only = [p.name for p in params if p.kind is inspect.Parameter.POSITIONAL_ONLY]
    if positional_only:
        raise TypeError(
            f"{owner}: run() may not have positional-only parameters "
            f"{positional_only}, because ferroflow passes every input by keyword"
        )
    reserved = [
        p.name
        for p in params
        if p.kind is not inspect.Parameter.VAR_KEYWORD and p.name in RESERVED_ARGUMENTS
    ]
    if reserved:
        raise ValueError(
            f"{owner}: run() may not have parameters named {reserved}: "
            f"{', '.join(RESERVED_ARGUMENTS)} are reserved by Task.__call__/bind/map"
        )
    var_keyword = next(
        (p.name for p in params if p.kind is inspect.Parameter.VAR_KEYWORD), None
    )
    named = [p for p in params if p.kind not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)]
    positional = tuple(p.name for p in named if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD)
    required = tuple(p.name for p in named if p.default is inspect.Parameter.empty)
    return _RunInfo(
        func=func,
        signature=signature,
        positional=positional,
        names=frozenset(p.name for p in named),
        required=required,
        var_keyword=var_keyword,
        nout=_infer_nout(func, signature),
        positional_counts=frozenset(
            range(len(required), len(positional) + 1)
            if positional[: len(required)] == required and star is None else ()
        ),
        var_positional=star,
    )


def _infer_nout(func: Any, signature: inspect.Signature) -> int | None:
    """Number of outputs from a ``-> Tuple[a, b]`` return annotation; None when there
    is no such annotation or the tuple has variable length."""
    annotation = signature.return_annotation
    if annotation is inspect.Signature.empty:
        return None
    if isinstance(annotation, str):  # `from __future__ import annotations`
        try:
            annotation = typing.get_type_hints(func).get("return")
        except Exception:
            return None
    origin = typing.get_origin(annotation)
    if origin is not tuple:
        return None
    # bare: length unknown
    if annotation is tuple or annotation is typing.Tuple:  # noqa: UP006 - the typing object itself, compared
        return None
    args = typing.get_args(annotation)
    if len(args) == 2 and args[1] is Ellipsis:
        return None
    if args == ((),):  # `Tuple[()]` before Python 3.11
        return 0
    return len(args)


def _class_run_info(cls: type) -> _RunInfo | None:
    raw = inspect.getattr_static(cls, "run", None)
    if isinstance(raw, staticmethod):
        return _inspect_run(raw.__func__, f"Task class {cls.__name__}", drop_first=False)
    if isinstance(raw, classmethod):
        return _inspect_run(raw.__func__, f"Task class {cls.__name__}", drop_first=True)
    if inspect.isfunction(raw) or (callable(raw) and hasattr(raw, "__wrapped__")):
        return _inspect_run(raw, f"Task class {cls.__name__}", drop_first=True)
    return None  # an unusual descriptor: inspected per instance, lazily


# --------------------------------------------------------------------------- options


class _Option(NamedTuple):
    """One task option: how a given value is normalised/validated, its default, and
    how a copy gets its own value.

    The default is a class attribute of :class:`Task`, so a task's ``__dict__`` holds
    only the options that differ from it and copying a task copies only those. An
    option with a ``clone`` is a mutable value each task owns (``tags``, a set;
    ``state_handlers``, a list): its default is a new empty one, ``clone()``, made on
    the first read (see :class:`_PerInstance`)."""

    normalize: Callable[[Task, Any], Any]
    clone: Callable[..., Any] | None = None  # None: copies share the (immutable) value
    default: Any = None


class _PerInstance:
    """The class-level default of a mutable option (``Task.tags``,
    ``Task.state_handlers``): on the first read of a task that has no value of its own
    it stores a new empty one (``factory()``) in the task and returns it.

    So a task that never had tags costs no set until someone looks at its tags, and
    behaves as if it had always had an empty one: it is its own (mutating it changes no
    other task), and once stored the task's ``__dict__`` value is what is read."""

    def __init__(self, name: str, factory: Callable[[], Any]):
        self.name = name
        self.factory = factory

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        if instance is None:
            return self
        # setdefault: of two threads reading it first at once, both get the one kept.
        return instance.__dict__.setdefault(self.name, self.factory())


def _check_tags(t: Task, value: Any) -> set:
    if value is None:
        result: set = set()
    elif isinstance(value, str):
        raise TypeError(
            f"Task {t.name!r}: tags must be a collection of strings, not the string "
            f"{value!r} (write tags=[{value!r}])"
        )
    else:
        try:
            result = set(value)
        except TypeError:
            raise TypeError(
                f"Task {t.name!r}: tags must be a collection of strings, got {value!r}"
            ) from None
        bad = [tag for tag in result if not isinstance(tag, str)]
        if bad:
            raise TypeError(f"Task {t.name!r}: tags must be strings, got {bad[0]!r}")
    context_tags = _CONTEXT_TAGS.get()
    if context_tags:
        result |= context_tags
    return result


def _check_max_retries(t: Task, value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"Task {t.name!r}: max_retries must be an int, got {value!r}")
    if not 0 <= value <= MAX_RETRIES_LIMIT:
        raise ValueError(
            f"Task {t.name!r}: max_retries must be between 0 and {MAX_RETRIES_LIMIT} "
            f"(ferroflow stores retry counters in one byte), got {value}"
        )
    return value


def _check_retry_delay(t: Task, value: Any) -> Any:
    """None, a timedelta, a tuple of per-attempt timedeltas, or an ExponentialBackoff
    (see ``ferroflow.retries``)."""
    from ferroflow import retries

    return retries.check_retry_delay(value, f"Task {t.name!r}")


def _check_retry_on(t: Task, value: Any) -> tuple[type[BaseException], ...]:
    if value is None:
        return ()
    if isinstance(value, type):
        candidates: list = [value]
    else:
        try:
            candidates = list(value)
        except TypeError:
            raise TypeError(
                f"Task {t.name!r}: retry_on must be an exception type or an iterable of "
                f"exception types, got an instance of {type(value).__name__}: {value!r}"
            ) from None
    for candidate in candidates:
        if not isinstance(candidate, type):
            raise TypeError(
                f"Task {t.name!r}: retry_on must hold exception types, got an instance "
                f"of {type(candidate).__name__}: {candidate!r}"
            )
        if not issubclass(candidate, Exception):
            raise TypeError(
                f"Task {t.name!r}: retry_on must hold subclasses of Exception, got "
                f"{candidate.__name__}"
            )
    return tuple(dict.fromkeys(candidates))


def _check_retry_condition(t: Task, value: Any) -> Callable[..., Any] | None:
    from ferroflow import retries

    return retries.check_retry_condition(value, f"Task {t.name!r}")


def _default_max_retries(max_retries: Any, retry_delay: Any) -> Any:
    """A list of delays without ``max_retries`` retries once per delay."""
    from ferroflow import retries

    return retries.default_max_retries(max_retries, retry_delay)


def _check_trigger(t: Task, value: Any) -> Callable:
    if value is None:
        return triggers.all_successful
    if value is triggers.some_successful or value is triggers.some_failed:
        # Given uncalled, Prefect 1 calls the factory with the upstream states and
        # takes the trigger it returns (a true value) as a pass: the task always runs,
        # which is what the factory's trigger without bounds does.
        return value()
    if not callable(value):
        raise TypeError(
            f"Task {t.name!r}: trigger must be callable "
            f"(upstream_states -> bool), got {value!r}"
        )
    return value


def _check_flag(t: Task, value: Any) -> bool:
    return bool(value)


def _check_timeout(t: Task, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime.timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise TypeError(
            f"Task {t.name!r}: timeout must be None, a positive number of seconds or a "
            f"datetime.timedelta, got {value!r}"
        )
    return float(value)


def _check_state_handlers(t: Task, value: Any) -> list:
    handlers = list(value or ())
    for h in handlers:
        if not callable(h):
            raise TypeError(f"Task {t.name!r}: state_handlers must be callables, got {h!r}")
    return handlers


def _check_callback(t: Task, value: Any) -> Callable[..., Any] | None:
    if value is not None and not callable(value):
        raise TypeError(f"Task {t.name!r}: on_failure must be a callable, got {value!r}")
    return value


def _check_nout(t: Task, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"Task {t.name!r}: nout must be None or an int, got {value!r}")
    if value < 0:
        raise ValueError(f"Task {t.name!r}: nout must not be negative, got {value}")
    return value


#: Every task option, in the order they are set: name -> how to normalise and copy it,
#: and its default (what the normaliser makes of ``Task.__init__``'s default). Add an
#: option here, add it as a keyword to ``Task.__init__`` (passed on to
#: ``_set_options``), and ``copy(**task_args)``/``task_args=`` handle it too.
TASK_OPTIONS: dict[str, _Option] = {
    "tags": _Option(_check_tags, clone=set),
    "max_retries": _Option(_check_max_retries, default=0),
    "retry_delay": _Option(_check_retry_delay),
    "retry_on": _Option(_check_retry_on, default=()),
    "retry_condition": _Option(_check_retry_condition),
    "trigger": _Option(_check_trigger, default=triggers.all_successful),
    "skip_on_upstream_skip": _Option(_check_flag, default=True),
    "nout": _Option(_check_nout),
    "log_stdout": _Option(_check_flag, default=False),
    "timeout": _Option(_check_timeout),
    "state_handlers": _Option(_check_state_handlers, clone=list),
    "on_failure": _Option(_check_callback),
    "result": _Option(result_options.check_result),
    "checkpoint": _Option(result_options.check_checkpoint),
    "target": _Option(result_options.check_target),
    "cache_for": _Option(result_options.check_cache_for),
    "cache_validator": _Option(result_options.check_cache_validator),
    "cache_key": _Option(result_options.check_cache_key),
    "cache_key_fn": _Option(result_options.check_cache_key_fn),
    "task_run_name": _Option(result_options.check_task_run_name),
}

#: The options a copy of a task gets its own copy of (name, how to copy it).
_CLONED_OPTIONS = tuple((name, option.clone) for name, option in TASK_OPTIONS.items() if option.clone is not None)


def _is_default(name: str, value: Any) -> bool:
    """Whether the normalised ``value`` of option ``name`` is its default, so that a
    new task need not store it (the class attribute answers)."""
    option = TASK_OPTIONS[name]
    if option.clone is not None:
        return not value  # an empty set or list: the one made on first read is alike
    default = option.default
    return value is default or (type(value) is type(default) and value == default)


def _check_option_combination(t: Task) -> None:
    """Constraints between options, checked after any of them changes."""
    if t.max_retries > 0 and t.retry_delay is None:
        raise ValueError(
            f"Task {t.name!r}: max_retries={t.max_retries} needs a retry_delay "
            "(a datetime.timedelta or seconds, a list of delays, or exponential_backoff(...))"
        )
    if t.retry_on and t.max_retries == 0:
        raise ValueError(
            f"Task {t.name!r}: retry_on is set, so max_retries must be greater than 0"
        )
    if getattr(t, "retry_condition", None) is not None and t.max_retries == 0:
        raise ValueError(
            f"Task {t.name!r}: retry_condition is set, so max_retries must be greater than 0"
        )
    if t.max_retries == 0 and not isinstance(t.retry_delay, (type(None), datetime.timedelta, tuple)):
        raise ValueError(
            f"Task {t.name!r}: retry_delay={t.retry_delay!r} does not say how many times to "
            "retry; set max_retries (greater than 0)"
        )
    if t.retry_delay is not None and t.max_retries == 0:
        raise ValueError(
            f"Task {t.name!r}: retry_delay is set, so max_retries must be greater than 0"
        )


def _check_name(value: Any, what: str = "Task name") -> str:
    if not isinstance(value, str) or not value:
        raise TypeError(f"{what} must be a non-empty str, got {value!r}")
    return value


def _check_slug(name: str, value: Any) -> str | None:
    if value is not None and (not isinstance(value, str) or not value):
        raise TypeError(f"Task {name!r}: slug must be None or a non-empty str, got {value!r}")
    return value


def _copy_into(new: Task, t: Task, copy_slug: bool) -> dict[str, Any]:
    """What :meth:`Task.copy` does before its ``task_args``: give ``new``, a bare
    instance of ``t``'s class, a copy of ``t``'s ``__dict__`` (which holds the options
    that differ from their defaults) with its own tags and state handlers, and the tags
    of the enclosing :func:`tags` blocks; an explicit slug gets ``"-copy"`` appended
    when ``copy_slug``. Returns ``new.__dict__``."""
    state = t.__dict__.copy()
    for name, clone in _CLONED_OPTIONS:
        if name in state:
            state[name] = clone(state[name])
    cls = type(t)
    if cls is FunctionTask or not cls._ff_own_setattr:  # (FunctionTask, the common class: not looked up)
        new.__dict__ = state
    else:
        object.__setattr__(new, "__dict__", state)
    if copy_slug and "slug" in state and t.slug:  # (a slug is in the task's __dict__ when it has one)
        state["slug"] = t.slug + "-copy"
    if _tags_blocks_seen:
        context_tags = _CONTEXT_TAGS.get()
        if context_tags:
            new.tags |= context_tags
    return state


def _require_flow(t: Task, flow: Flow | None) -> Flow:
    flow = flow if flow is not None else _ACTIVE_FLOW.get()
    if flow is None:
        runner = t.name if isinstance(t, FunctionTask) else f"{type(t).__name__}(...)"
        raise ValueError(
            f"Task {t.name!r} was called outside a flow, so there is no flow to add it to. "
            f"Build flows inside a `with Flow(...)` block (or pass flow=...); to run the "
            f"task's code directly, call `{runner}.run(...)`."
        )
    return flow


# --------------------------------------------------------------------------- Task


def _task_call(self: Task, *args: Any, **kwargs: Any) -> Task:
    """Copy this task (applying ``task_args``) and bind the copy to the inputs, in
    ``flow`` or the active flow. Returns the copy.

    The keyword arguments ``mapped``, ``task_args``, ``upstream_tasks`` and ``flow``
    are the call's own (the signature is :meth:`_call`'s): ``mapped=True`` maps
    over every input (see :meth:`map`); ``upstream_tasks`` adds state-only
    dependencies; every other keyword is an input.
    """
    cls = type(self)
    if kwargs or cls is not FunctionTask:
        return self._call(args, **kwargs)
    # The common call, `t(a, b)` of a FunctionTask (no keyword: its own keyword
    # parameters, filled with defaults, would cost more than the rest of the call).
    flow = _ACTIVE_FLOW.get()
    if flow is None:
        eager = CURRENT_EAGER_RUN.get()
        if eager is not None:  # inside an @flow function: the task runs now
            return eager.call(self, args, {})
        flow = _require_flow(self, flow)  # raises, saying what to do
    # What copy() does (_copy_into, written out here: a call is a tenth of this
    # path; FunctionTask has no __new__ or __setattr__ of its own, and a slug is in
    # the task's __dict__ when it has one). test_a_call_copies_as_copy_does pins it.
    new = _object_new(cls)
    state = self.__dict__.copy()
    for name, clone in _CLONED_OPTIONS:
        if name in state:
            state[name] = clone(state[name])
    new.__dict__ = state
    slugged = "slug" in state
    if slugged and self.slug:
        state["slug"] = self.slug + "-copy"
    if _tags_blocks_seen:
        context_tags = _CONTEXT_TAGS.get()
        if context_tags:
            new.tags |= context_tags
    # When the positional arguments alone bind run()'s, the flow binds them by
    # name (no dict of arguments). The run info is the template's, unless run
    # changed or the info is not kept (an unpickled task).
    try:
        info = state["_ff_instance_run_info"]
        stale = info.func is not state["run"]
    except KeyError:
        stale = True
    if stale:
        info = new._run_info()
    if len(args) in info.positional_counts and flow._bind_fresh(
        new, info.positional, args, slugged or "tags" in state
    ):
        return new
    return new._bind_call(flow, args, {}, False, None)


class Task:
    """A unit of work: subclass it and implement ``run()``.

    ``run()`` receives every input as a keyword argument; it may not take ``*args``,
    positional-only parameters, or parameters named ``upstream_tasks``, ``mapped``,
    ``task_args`` or ``flow``.

    Options:

    * ``name`` -- display name (default: the class name); ``slug`` -- a stable id that
      must be unique within a flow (default: generated by the flow, ``"{name}-{n}"``);
    * ``tags`` -- a collection of strings (a bare ``str`` is a TypeError);
    * ``max_retries`` (int, 0 to 255) and ``retry_delay``: retry a failed run up to
      ``max_retries`` times, waiting ``retry_delay`` -- a timedelta (or seconds), a
      list of per-attempt delays (the last repeats; ``max_retries`` defaults to its
      length) or :func:`ferroflow.retries.exponential_backoff` (``docs/retries.md``);
      ``retry_on`` -- an exception type or types: retry only those;
      ``retry_condition`` -- ``fn(task, state) -> bool`` called with the Failed state
      of a run that could be retried: retry only when it returns True;
    * ``trigger`` -- ``fn(upstream_states) -> bool``, default
      :func:`ferroflow.triggers.all_successful`;
    * ``skip_on_upstream_skip`` -- skip this task when an upstream task skipped
      (default True);
    * ``nout`` -- how many values ``run()`` returns, for ``a, b = t()``; inferred from
      a ``-> Tuple[int, str]`` return annotation;
    * ``log_stdout``, ``timeout``, ``state_handlers``, ``on_failure`` -- see
      ``docs/logging.md``, ``docs/timeouts.md``, ``docs/state-handlers.md``;
    * ``result`` -- a :class:`ferroflow.results.Result` (or a URL/path) where the
      values of successful runs are checkpointed (default: the flow's ``result``);
      ``checkpoint=False`` turns that off; ``target`` -- a location template
      (``"{task_name}/{map_index}.pkl"``): a run whose target exists is ``Cached``
      with the value stored there and does not run (``docs/results.md``);
    * ``cache_for`` (timedelta or seconds), ``cache_validator`` (from
      :mod:`ferroflow.cache_validators`), ``cache_key`` (shared between tasks and
      flows), ``cache_key_fn(context, inputs) -> str`` -- reuse values of earlier runs,
      kept in the result store (``docs/caching.md``);
    * ``task_run_name`` -- a template (``"load-{source}"``) or callable naming each
      run from its inputs and the context.
    """

    auto_generated = False
    slug: str | None = None

    # The options, set together by ``_set_options`` (see TASK_OPTIONS), normalised;
    # their defaults are class attributes, set from TASK_OPTIONS below the class.
    tags: set[str]
    max_retries: int
    retry_delay: Any  # None, a timedelta, a tuple of them or an ExponentialBackoff
    retry_on: tuple[type[BaseException], ...]
    retry_condition: Callable[..., Any] | None
    trigger: Callable[..., Any]
    skip_on_upstream_skip: bool
    nout: int | None
    log_stdout: bool
    timeout: float | None
    state_handlers: list
    on_failure: FailureHooks  # (its Prefect 1 value: ``on_failure.callback``)
    result: Any
    checkpoint: bool | None
    target: str | Callable[..., str] | None
    cache_for: datetime.timedelta | None
    cache_validator: Any
    cache_key: str | None
    cache_key_fn: Callable[..., Any] | None
    task_run_name: str | Callable[..., str] | None
    #: The inspected ``run`` of a class that defines one (see ``_run_info``).
    _ff_run_info: ClassVar[_RunInfo | None]
    #: True for a subclass that gives an option (or ``slug``) a class attribute of its
    #: own: its instances store every option, as the constructor always did, so that
    #: attribute stays hidden behind the value the constructor was given.
    _ff_stores_defaults: ClassVar[bool] = False
    #: True for a subclass with a ``__setattr__`` of its own, which ``copy()`` passes by.
    _ff_own_setattr: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "run" in cls.__dict__:
            cls._ff_run_info = _class_run_info(cls)
        cls._ff_own_setattr = cls.__setattr__ is not object.__setattr__
        cls._ff_stores_defaults = any(
            name in vars(klass)
            for klass in cls.__mro__
            if klass is not Task and klass is not object
            for name in (*TASK_OPTIONS, "slug")
        )

    def __init__(
        self,
        name: str | None = None,
        slug: str | None = None,
        tags: Iterable[str] | None = None,
        max_retries: int | None = None,
        retry_delay: Any = None,
        retry_on: type[Exception] | Iterable[type[Exception]] | None = None,
        retry_condition: Callable[..., Any] | None = None,
        trigger: Callable[..., bool] | None = None,
        skip_on_upstream_skip: bool = True,
        nout: int | None = None,
        log_stdout: bool = False,
        timeout: float | datetime.timedelta | None = None,
        state_handlers: Iterable[Callable[..., Any]] | None = None,
        on_failure: Callable[..., Any] | None = None,
        result: Any = None,
        checkpoint: bool | None = None,
        target: str | Callable[..., str] | None = None,
        cache_for: datetime.timedelta | int | float | None = None,
        cache_validator: Any = None,
        cache_key: str | None = None,
        cache_key_fn: Callable[..., Any] | None = None,
        task_run_name: str | Callable[..., str] | None = None,
    ):
        # A false name (None, "", {}) gives the class name, as in Prefect 1.
        self.name = _check_name(name or type(self).__name__)
        slug = _check_slug(self.name, slug)
        if slug is not None or self._ff_stores_defaults or "slug" in self.__dict__:
            self.slug = slug
        if nout is None:
            nout = self._run_info().nout
        self._set_options(
            dict(
                tags=tags,
                max_retries=max_retries,
                retry_delay=retry_delay,
                retry_on=retry_on,
                retry_condition=retry_condition,
                trigger=trigger,
                skip_on_upstream_skip=skip_on_upstream_skip,
                nout=nout,
                log_stdout=log_stdout,
                timeout=timeout,
                state_handlers=state_handlers,
                on_failure=on_failure,
                result=result,
                checkpoint=checkpoint,
                target=target,
                cache_for=cache_for,
                cache_validator=cache_validator,
                cache_key=cache_key,
                cache_key_fn=cache_key_fn,
                task_run_name=task_run_name,
            ),
            new=not self._ff_stores_defaults,
        )

    def _set_options(self, given: Mapping[str, Any], new: bool = False) -> None:
        """Normalise and validate ``given`` options, then set them all or none. For a
        ``new`` task (the constructor's call), options left at their default are not
        stored, unless the task holds a value under that name already: the class
        attributes hold the defaults."""
        if "retry_delay" in given and given.get("max_retries") is None and not self.__dict__.get("max_retries"):
            # A list of delays without max_retries retries once per delay (in the
            # constructor, copy() and task_args= alike).
            given = {**given, "max_retries": _default_max_retries(None, given["retry_delay"])}
        values = {name: TASK_OPTIONS[name].normalize(self, value) for name, value in given.items()}
        if new:  # a default is stored only over a value already there (FunctionTask's fn.__dict__)
            state = self.__dict__
            values = {name: value for name, value in values.items() if name in state or not _is_default(name, value)}
        previous = {name: self.__dict__[name] for name in values if name in self.__dict__}
        self.__dict__.update(values)
        try:
            _check_option_combination(self)
            result_options.check_result_combination(self)
        except Exception:
            for name in values:
                if name in previous:
                    self.__dict__[name] = previous[name]
                else:
                    del self.__dict__[name]
            raise

    def _run_info(self) -> _RunInfo:
        """The inspected ``run`` of this task (cached per class, or per instance when
        ``run`` is an instance attribute as in :class:`FunctionTask`)."""
        state = self.__dict__
        run = state.get("run")
        if run is None:
            info = getattr(type(self), "_ff_run_info", None)
            if info is not None:
                return info
            run = self.run
            cached = state.get("_ff_instance_run_info")
            if cached is not None and cached.func == run:
                return cached
            info = _inspect_run(run, f"Task {self.name!r}", drop_first=False)
        else:
            cached = state.get("_ff_instance_run_info")
            if cached is not None and cached.func is run:
                return cached
            info = _inspect_run(run, f"Task {self.name!r}", drop_first=False, var_positional=True)
        state["_ff_instance_run_info"] = info
        return info

    def __repr__(self) -> str:
        return f"<Task: {self.name}>"

    @property
    def fn(self) -> Callable[..., Any]:
        """The task's function (Prefect 3's ``task.fn``): ``task.fn(x)`` calls it
        directly, outside any flow."""
        return self.run

    def on_completion(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Prefect 3's decorator: ``@my_task.on_completion`` above a ``hook(task,
        task_run, state)`` adds it to the hooks eager flows call when a call of the task
        completes (as ``on_completion=[hook]`` does); returns it. (``on_failure`` is
        the same for failures: :class:`FailureHooks`.)"""
        return prefect3_options.add_hook(self, "on_completion", fn)

    def on_cancellation(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """The decorator form of ``on_cancellation=[hook]``: a hook called when a call of
        the task ends ``Cancelled`` (its flow run was interrupted, or its asyncio task
        cancelled, before it ended); returns it."""
        return prefect3_options.add_hook(self, "on_cancellation", fn)

    def on_running(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Prefect 3's decorator: ``@my_task.on_running`` adds a hook called as each
        attempt of a call starts (as ``on_running=[hook]`` does); returns it."""
        return prefect3_options.add_hook(self, "on_running", fn)

    def with_options(self, **options: Any) -> Task:
        """A copy of this task with some options changed (Prefect 3's ``with_options``;
        its option names are accepted beside ferroflow's)."""
        owner = f"Task {self.name!r}"
        base = prefect3_options.eager_options(self)
        given, eager = prefect3_options.split(options, owner, self.run, base)
        new = self.copy(**given)
        if eager is not None:
            new.__dict__["_ff_eager_options"] = eager
        return new

    @property
    def logger(self) -> Any:
        """The task's logger (``ferroflow.task.<name>``), as Prefect 1's ``Task.logger``:
        its records carry the task run's flow, task and map index and are kept with
        the run's states (``docs/logging.md``)."""
        from ferroflow.runtime.logs import get_logger

        return get_logger(self.name)

    def __getstate__(self) -> dict[str, Any]:
        # The inspected signature is a cache (and may hold unpicklable annotations).
        state = self.__dict__.copy()
        state.pop("_ff_instance_run_info", None)
        return state

    # ------------------------------------------------------------------- run

    def run(self) -> Any:
        """The task's work. Override it; the engine calls it with keyword arguments
        (the bound inputs). Return the result, raise to fail, or raise a signal from
        :mod:`ferroflow.signals` to choose the resulting state."""
        return None

    # ------------------------------------------------------------------- copying and binding

    def copy(self, **task_args: Any) -> Task:
        """A shallow copy of this task, with attributes in ``task_args`` replaced.

        Options among ``task_args`` are validated like constructor arguments; any other
        name must be an existing attribute (else AttributeError). An explicit slug gets
        ``"-copy"`` appended unless ``slug`` is given. Tags are the union of this
        task's, the given ones and the enclosing :func:`tags` block's.
        """
        cls = type(self)
        new = cls.__new__(cls)
        state = _copy_into(new, self, "slug" not in task_args)
        if task_args:
            options = {}
            for attr, value in task_args.items():
                if attr in TASK_OPTIONS:
                    options[attr] = value
                elif attr == "name":
                    state["name"] = _check_name(value)
                elif attr == "slug":
                    state["slug"] = _check_slug(new.name, value)
                elif hasattr(new, attr):
                    setattr(new, attr, value)
                else:
                    raise AttributeError(
                        f"Task {self.name!r} has no attribute {attr!r} to set through "
                        "task_args/copy()"
                    )
            if "tags" in options:
                options["tags"] = set(self.tags) | _check_tags(new, options["tags"])
            if options:
                new._set_options(options)
        return new

    if TYPE_CHECKING:
        # What type checkers see; the call itself is ``_task_call`` (keywords in
        # ``**kwargs``: declared ones would cost the common call more than the rest).
        def __call__(
            self,
            *args: Any,
            mapped: bool = False,
            task_args: dict | None = None,
            upstream_tasks: Iterable[Any] | None = None,
            flow: Flow | None = None,
            **kwargs: Any,
        ) -> Task: ...
    else:
        __call__ = _task_call

    def _call(
        self,
        args: tuple,
        /,
        *,
        mapped: bool = False,
        task_args: dict | None = None,
        upstream_tasks: Iterable[Any] | None = None,
        flow: Flow | None = None,
        **kwargs: Any,
    ) -> Task:
        """``self(*args, **kwargs)`` with keyword arguments (see :meth:`__call__`)."""
        if flow is None and _ACTIVE_FLOW.get() is None:
            eager = CURRENT_EAGER_RUN.get()
            if eager is not None:  # inside an @flow function: the task runs now
                return eager.call(self, args, kwargs, task_args=task_args, mapped=mapped,
                                  upstream_tasks=upstream_tasks)
        flow = _require_flow(self, flow)
        new = self.copy(**task_args) if task_args else self.copy()
        return new._bind_call(flow, args, kwargs, mapped, upstream_tasks)

    def _bind_call(
        self, flow: Flow, args: tuple, kwargs: dict, mapped: bool, upstream_tasks: Iterable[Any] | None
    ) -> Task:
        """Bind this copy, made by a call, to the call's inputs; returns it. (A copy()
        of a subclass's own may return a task already in the flow: bound again.)"""
        arguments = self._graph_arguments(args, kwargs)
        if (mapped or upstream_tasks or isinstance(self, _parameter.Parameter) or self in flow.tasks
                or not flow._bind_fresh(self, tuple(arguments), tuple(arguments.values()), True)):
            flow._bind_inputs(self, arguments, bool(mapped), upstream_tasks)
        return self

    def bind(
        self,
        *args: Any,
        mapped: bool = False,
        upstream_tasks: Iterable[Any] | None = None,
        flow: Flow | None = None,
        **kwargs: Any,
    ) -> Task:
        """Bind *this* task (no copy) to inputs in ``flow`` or the active flow.

        Arguments are matched to ``run()``'s signature (a missing required argument is a
        TypeError naming the task). Each becomes a keyed edge; plain values become
        constants. ``upstream_tasks`` adds state-only edges. A key may be bound once per
        flow. Returns ``self``.
        """
        arguments = self._graph_arguments(args, kwargs)
        flow = _require_flow(self, flow)
        flow._bind_inputs(self, arguments, bool(mapped), upstream_tasks)
        context_tags = _CONTEXT_TAGS.get()
        if context_tags:
            self.tags |= context_tags
        return self

    def _graph_arguments(self, args: tuple, kwargs: dict) -> dict[str, Any]:
        """:meth:`_bind_arguments` for a deferred flow's graph, whose edges are keyed
        by name: a function taking ``*args`` is refused there."""
        star = self._run_info().var_positional
        if star is not None:
            raise ValueError(
                f"Task {self.name!r}: its function takes *{star}, which only an eager flow "
                f"(@flow) can pass: a deferred Flow binds every input by name; take **kwargs "
                f"or a list instead"
            )
        return self._bind_arguments(args, kwargs)

    def _bind_arguments(self, args: tuple, kwargs: dict) -> dict[str, Any]:
        """Match call arguments to ``run()``'s parameters, like
        ``inspect.signature(run).bind`` (whose message is reused on error), with
        ``**kwargs`` expanded."""
        info = self._run_info()
        ok = len(args) <= len(info.positional)
        arguments = dict(zip(info.positional, args, strict=False))
        if not ok and info.var_positional is not None:  # the rest go to *args, as a tuple
            arguments[info.var_positional] = args[len(info.positional):]
            ok = info.var_positional not in kwargs
        if ok:
            for key, value in kwargs.items():
                if key in arguments or (key not in info.names and info.var_keyword is None):
                    ok = False
                    break
                arguments[key] = value
        if ok:
            for name in info.required:
                if name not in arguments:
                    ok = False
                    break
        if ok and info.var_keyword is not None:
            for key in kwargs:
                if key not in info.names and not _edge.is_valid_key(key):
                    raise ValueError(
                        f"Task {self.name!r}: {key!r} is not a valid keyword argument name"
                    )
        if not ok:
            try:
                info.signature.bind(*args, **kwargs)
            except TypeError as exc:
                raise TypeError(f"Task {self.name!r}: {exc}") from None
            raise TypeError(f"Task {self.name!r}: cannot bind arguments {args!r}, {kwargs!r}")
        return arguments

    def map(
        self,
        *args: Any,
        upstream_tasks: Iterable[Any] | None = None,
        flow: Flow | None = None,
        task_args: dict | None = None,
        **kwargs: Any,
    ) -> Task:
        """Copy this task and map the copy over its inputs: one child run per element
        (the shortest input decides how many). Wrap an input in
        :class:`~ferroflow.core.edge.unmapped` to pass it whole to every child, in
        :class:`~ferroflow.core.edge.flatten` to un-nest it first. Inputs must be tasks,
        annotations or subscriptable values. The copy's ``nout`` is None."""
        if flow is None and _ACTIVE_FLOW.get() is None:
            eager = CURRENT_EAGER_RUN.get()
            if eager is not None:  # inside an @flow function: the children run now
                return eager.map(self, args, kwargs, task_args=task_args, upstream_tasks=upstream_tasks)
        arguments = self._graph_arguments(args, kwargs)
        for key, value in arguments.items():
            if not (
                isinstance(value, (Task, _edge.EdgeAnnotation)) or hasattr(value, "__getitem__")
            ):
                raise TypeError(
                    f"Task {self.name!r}: cannot map over argument {key!r}: "
                    f"{type(value).__name__} object {_preview(value)} is not subscriptable "
                    "(wrap it in unmapped(...) to pass it whole to every child)"
                )
        _require_flow(self, flow)
        options = dict(task_args) if task_args else {}
        options.setdefault("nout", None)
        new = self.copy(**options)
        return new.bind(
            *args, mapped=True, upstream_tasks=upstream_tasks, flow=flow, **kwargs
        )

    def submit(self, *args: Any, **kwargs: Any) -> Any:
        """Inside an eager flow (an ``@flow`` function): run this task on the flow's
        executor and return a future at once (``future.result()`` waits for its value).
        ``wait_for=[futures]`` runs it after those; ``return_state=True`` makes
        ``result()`` give the state. See ``docs/eager-flows.md``."""
        eager = CURRENT_EAGER_RUN.get() if _ACTIVE_FLOW.get() is None else None
        if eager is None:
            raise RuntimeError(
                f"Task {self.name!r}: submit() runs a task inside an eager flow (a function decorated "
                f"with @flow). Inside `with Flow(...)`, call the task to add it to the flow."
            )
        return eager.submit(self, args, kwargs)

    def set_dependencies(
        self,
        flow: Flow | None = None,
        upstream_tasks: Iterable[Any] | None = None,
        downstream_tasks: Iterable[Any] | None = None,
        keyword_tasks: Mapping[str, Any] | None = None,
        mapped: bool = False,
        validate: bool | None = None,
    ) -> Task:
        """Add dependencies of this task to ``flow`` (or the active flow); see
        :meth:`Flow.set_dependencies`. Returns ``self``."""
        flow = _require_flow(self, flow)
        flow.set_dependencies(
            self,
            upstream_tasks=upstream_tasks,
            downstream_tasks=downstream_tasks,
            keyword_tasks=keyword_tasks,
            mapped=mapped,
            validate=validate,
        )
        return self

    def set_upstream(
        self, task: Any, flow: Flow | None = None, key: str | None = None, mapped: bool = False
    ) -> Task:
        """Make ``task`` an upstream dependency of this task; with ``key``, its result
        is passed to this task's ``run()`` under that name. Returns ``self``."""
        if key is not None:
            return self.set_dependencies(flow=flow, keyword_tasks={key: task}, mapped=mapped)
        return self.set_dependencies(flow=flow, upstream_tasks=[task], mapped=mapped)

    def set_downstream(
        self, task: Task, flow: Flow | None = None, key: str | None = None, mapped: bool = False
    ) -> Task:
        """Make ``task`` a downstream dependency of this task; with ``key``, this task's
        result is passed to ``task.run()`` under that name. Returns ``self``."""
        if not isinstance(task, Task):
            raise TypeError(f"set_downstream() takes a Task, got {task!r}")
        if key is not None:
            task.set_dependencies(flow=flow, keyword_tasks={key: self}, mapped=mapped)
        else:
            task.set_dependencies(flow=flow, upstream_tasks=[self], mapped=mapped)
        return self

    # ------------------------------------------------------------------- introspection

    def _annotations(self) -> dict[str, Any]:
        info = self._run_info()
        found = {name: p.annotation for name, p in info.signature.parameters.items()}
        found["return"] = info.signature.return_annotation
        if any(isinstance(a, str) for a in found.values()):
            try:  # string annotations (`from __future__ import annotations`)
                found.update(typing.get_type_hints(info.func))
            except Exception:
                pass
        return found

    def inputs(self) -> dict[str, dict[str, Any]]:
        """``run()``'s inputs: name -> ``{"type", "required", "default"}``."""
        annotations = self._annotations()
        result = {}
        for name, p in self._run_info().signature.parameters.items():
            if p.kind is inspect.Parameter.VAR_KEYWORD:
                continue
            required = p.default is inspect.Parameter.empty
            annotation = annotations[name]
            result[name] = {
                "type": Any if annotation is inspect.Parameter.empty else annotation,
                "required": required,
                "default": None if required else p.default,
            }
        return result

    def outputs(self) -> Any:
        """``run()``'s return annotation (``Any`` when there is none)."""
        annotation = self._annotations()["return"]
        return Any if annotation is inspect.Signature.empty else annotation

    def pipe(_ff_self, _ff_task: Any, **kwargs: Any) -> Task:
        """``t.pipe(f, y=1)`` is ``f(t, y=1)``; an annotation class is applied:
        ``t.pipe(unmapped)`` is ``unmapped(t)`` turned into a task."""
        if inspect.isclass(_ff_task) and issubclass(_ff_task, _edge.EdgeAnnotation):
            return _collections.as_task(_ff_task(_ff_self))
        return _ff_task(_ff_self, **kwargs)

    # ------------------------------------------------------------------- outputs as tasks

    def __getitem__(self, key: Any) -> Task:
        """A :class:`~ferroflow.core.collections.GetItem` task computing ``self[key]``."""
        label = key.name if isinstance(key, Task) else repr(key)
        return _collections.GetItem(name=f"{self.name}[{label}]").bind(self, key)

    def __iter__(self) -> Iterator[Task]:
        if self.nout is None:
            raise TypeError(
                f"Task {self.name!r} is not iterable: to unpack several results, pass "
                "nout=... to the task (or its decorator), or annotate run() with a "
                "Tuple[...] return type"
            )
        return (self[i] for i in range(self.nout))

    # ------------------------------------------------------------------- operators

    def __or__(self, other: Any) -> Any:
        """``a | b`` makes ``b`` run after ``a`` (a state dependency); returns ``b``."""
        self.set_dependencies(downstream_tasks=[other])
        return other

    def __ror__(self, other: Any) -> Task:
        """``x | t`` makes ``t`` run after ``x``; returns ``t``."""
        self.set_dependencies(upstream_tasks=[other])
        return self

    def __add__(self, other: Any) -> Task:
        """A task computing ``self + other``."""
        return _operators.Add().bind(self, other)

    def __sub__(self, other: Any) -> Task:
        """A task computing ``self - other``."""
        return _operators.Sub().bind(self, other)

    def __mul__(self, other: Any) -> Task:
        """A task computing ``self * other``."""
        return _operators.Mul().bind(self, other)

    def __truediv__(self, other: Any) -> Task:
        """A task computing ``self / other``."""
        return _operators.Div().bind(self, other)

    def __floordiv__(self, other: Any) -> Task:
        """A task computing ``self // other``."""
        return _operators.FloorDiv().bind(self, other)

    def __mod__(self, other: Any) -> Task:
        """A task computing ``self % other``."""
        return _operators.Mod().bind(self, other)

    def __pow__(self, other: Any) -> Task:
        """A task computing ``self ** other``."""
        return _operators.Pow().bind(self, other)

    def __and__(self, other: Any) -> Task:
        """A task computing ``self and other``."""
        return _operators.And().bind(self, other)

    def __radd__(self, other: Any) -> Task:
        """A task computing ``other + self``."""
        return _operators.Add().bind(other, self)

    def __rsub__(self, other: Any) -> Task:
        """A task computing ``other - self``."""
        return _operators.Sub().bind(other, self)

    def __rmul__(self, other: Any) -> Task:
        """A task computing ``other * self``."""
        return _operators.Mul().bind(other, self)

    def __rtruediv__(self, other: Any) -> Task:
        """A task computing ``other / self``."""
        return _operators.Div().bind(other, self)

    def __rfloordiv__(self, other: Any) -> Task:
        """A task computing ``other // self``."""
        return _operators.FloorDiv().bind(other, self)

    def __rmod__(self, other: Any) -> Task:
        """A task computing ``other % self``."""
        return _operators.Mod().bind(other, self)

    def __rpow__(self, other: Any) -> Task:
        """A task computing ``other ** self``."""
        return _operators.Pow().bind(other, self)

    def __rand__(self, other: Any) -> Task:
        """A task computing ``other and self``."""
        return _operators.And().bind(other, self)

    def __gt__(self, other: Any) -> Task:
        """A task computing ``self > other``."""
        return _operators.GreaterThan().bind(self, other)

    def __ge__(self, other: Any) -> Task:
        """A task computing ``self >= other``."""
        return _operators.GreaterThanOrEqual().bind(self, other)

    def __lt__(self, other: Any) -> Task:
        """A task computing ``self < other``."""
        return _operators.LessThan().bind(self, other)

    def __le__(self, other: Any) -> Task:
        """A task computing ``self <= other``."""
        return _operators.LessThanOrEqual().bind(self, other)

    def is_equal(self, other: Any) -> Task:
        """A task computing ``self == other`` (``==`` itself compares task identity)."""
        return _operators.Equal().bind(self, other)

    def is_not_equal(self, other: Any) -> Task:
        """A task computing ``self != other``."""
        return _operators.NotEqual().bind(self, other)

    def not_(self) -> Task:
        """A task computing ``not self``."""
        return _operators.Not().bind(self)

    def or_(self, other: Any) -> Task:
        """A task computing ``self or other`` (``|`` adds a dependency instead)."""
        return _operators.Or().bind(self, other)


Task._ff_run_info = _class_run_info(Task)


def _call_signature(
    self,
    *args: Any,
    mapped: bool = False,
    task_args: dict | None = None,
    upstream_tasks: Iterable[Any] | None = None,
    flow: Flow | None = None,
    **kwargs: Any,
) -> Task:
    """The signature :meth:`Task.__call__` shows (``inspect.signature``, ``help``): it
    takes these keywords, found in its ``**kwargs`` (see ``Task._call``)."""
    raise NotImplementedError


_task_call.__signature__ = inspect.signature(_call_signature)  # type: ignore[attr-defined]
# The options' defaults, as class attributes (a function, the default trigger, as a
# staticmethod: read from a task it is the function itself, not a bound method).
for _name, _option in TASK_OPTIONS.items():
    if _option.clone is not None:
        setattr(Task, _name, _PerInstance(_name, _option.clone))
    elif hasattr(_option.default, "__get__"):
        setattr(Task, _name, staticmethod(_option.default))
    else:
        setattr(Task, _name, _option.default)
del _name, _option


class FailureHooks:
    """What ``task.on_failure`` reads: Prefect 3's decorator, ``@my_task.on_failure``
    above a ``hook(task, task_run, state)`` adds it to the hooks eager flows call when a
    call of the task fails (as ``on_failure=[hook]`` does) and returns it. Prefect 1's
    ``on_failure=callback(task, state)`` option is its :attr:`callback` (None when not
    given; the object is true when it is given)."""

    __slots__ = ("task",)

    def __init__(self, task: Task):
        self.task = task

    @property
    def callback(self) -> Callable[..., Any] | None:
        return self.task.__dict__.get("on_failure")

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        return prefect3_options.add_hook(self.task, "on_failure", fn)

    def __bool__(self) -> bool:
        return self.callback is not None

    def __eq__(self, other: object) -> bool:  # (compared as the option is)
        return isinstance(other, FailureHooks) and self.callback == other.callback

    def __hash__(self) -> int:
        return hash(self.callback)

    def __repr__(self) -> str:
        return f"<on_failure of {self.task!r}: {self.callback!r}>"


class _OnFailure:
    """``Task.on_failure``: reads give :class:`FailureHooks`, an assignment sets the
    Prefect 1 option (validated as the constructor's ``on_failure=``)."""

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        return self if instance is None else FailureHooks(instance)

    def __set__(self, instance: Any, value: Any) -> None:
        instance._set_options({"on_failure": value})


Task.on_failure = _OnFailure()  # type: ignore[assignment]  # (set after the options' defaults)


def _preview(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class FunctionTask(Task):
    """A task whose ``run`` is the function ``fn``; what :func:`task` creates.

    ``name`` defaults to the function's name; other keyword arguments are Task options.
    """

    def __init__(self, fn: Callable[..., Any], name: str | None = None, **task_kwargs: Any):
        if not callable(fn):
            raise TypeError(f"FunctionTask needs a callable, got {fn!r}")
        if name is None:
            name = getattr(fn, "__name__", None) or type(self).__name__
        functools.update_wrapper(self, fn)
        self.run = fn  # type: ignore[method-assign]  # this instance's run is fn itself
        self.__dict__["_ff_instance_run_info"] = _inspect_run(
            fn, f"Task {name!r}", drop_first=False, var_positional=True
        )
        task_kwargs, eager = prefect3_options.split(task_kwargs, f"Task {name!r}", fn)
        super().__init__(name=name, **task_kwargs)
        if eager is not None:
            self.__dict__["_ff_eager_options"] = eager

    def __repr__(self) -> str:
        return f"<Task: {self.name}>"

    @property
    def logger(self) -> Any:
        """The task's logger (``ferroflow.task.<name>``), as Prefect 1's ``Task.logger``:
        its records carry the task run's flow, task and map index and are kept with
        the run's states (``docs/logging.md``)."""
        from ferroflow.runtime.logs import get_logger

        return get_logger(self.name)


@typing.overload
def task(__fn: Callable[..., Any]) -> FunctionTask: ...


@typing.overload
def task(**task_kwargs: Any) -> Callable[[Callable[..., Any]], FunctionTask]: ...


def task(fn: Callable[..., Any] | None = None, **task_kwargs: Any) -> Any:
    """Turn a function into a task template (a :class:`FunctionTask`).

    Use ``@task`` or ``@task(name=..., max_retries=..., ...)`` with any Task option.
    Calling the template inside ``with Flow(...)`` adds a bound copy to the flow;
    ``template.run(...)`` calls the function itself.
    """
    if fn is None:
        return lambda function: FunctionTask(function, **task_kwargs)
    return FunctionTask(fn, **task_kwargs)


# Late imports: these modules subclass Task or build tasks.
from ferroflow.core import collections as _collections  # noqa: E402
from ferroflow.core import edge as _edge  # noqa: E402
from ferroflow.core import operators as _operators  # noqa: E402
from ferroflow.core import parameter as _parameter  # noqa: E402
