"""What a run produced, and State objects built from it on demand.

The core keeps one byte per task run; values and failure details live in Python
lists and dicts indexed by the core's ids. ``State`` objects exist only once someone
asks for them: ``flow_state.result[task]`` builds one per task, and a mapped task's
``map_states`` is a lazy sequence, so a million children cost no Python objects until
they are looked at.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ferroflow import _core, signals, states
from ferroflow.states import STATE_CLASSES

UPSTREAM_SKIPPED = (
    "Upstream task was skipped; if this was not the intended behavior, consider "
    "changing `skip_on_upstream_skip=False` for this task."
)
NOTHING_TO_MAP = "No upstream states can be mapped over."
UNMAPPABLE = "At least one upstream state has an unmappable result."
CANCELLED = "Interrupt signal raised, cancelling flow run."

_TRIGGER_MESSAGES = {
    "all_successful": 'Trigger was "all_successful" but some of the upstream tasks failed.',
    "all_failed": 'Trigger was "all_failed" but some of the upstream tasks succeeded.',
    "any_successful": 'Trigger was "any_successful" but none of the upstream tasks succeeded.',
    "any_failed": 'Trigger was "any_failed" but none of the upstream tasks failed.',
    "all_finished": 'Trigger was "all_finished" but some of the upstream tasks were not finished.',
    "not_all_skipped": 'Trigger was "not_all_skipped" but some of the upstream tasks failed.',
    "some_successful": 'Trigger was "some_successful" but thresholds were not met.',
    "some_failed": 'Trigger was "some_failed" but thresholds were not met.',
}

TASK_LEVEL = -1


class RunRecord:
    """Codes (in the core), values and details of one flow run."""

    def __init__(self, frozen: Any, core: Any):
        self.frozen = frozen
        self.core = core
        n = len(frozen.tasks)
        self.values: list = [None] * n
        # (task id, child index or TASK_LEVEL) -> (message, traceback text)
        self.details: dict = {}
        # (task id, child index or TASK_LEVEL) -> [LogEntry, ...]
        self.logs: dict = {}
        # (task id, child index or TASK_LEVEL) -> where its result was checkpointed
        self.locations: dict = {}
        self.run_id: str = ""
        self.cancel_message = CANCELLED

    # ----- values ------------------------------------------------------------------

    def location(self, task_id: int, index: int = TASK_LEVEL) -> Any:
        """Where the result of a task run was checkpointed, or None."""
        return self.locations.get((task_id, index))

    def child_values(self, task_id: int) -> list:
        """The list of a mapped task's child values (one slot per child), created on
        first use."""
        values = self.values[task_id]
        if values is None:
            values = self.values[task_id] = [None] * (self.core.width(task_id) or 0)
        return values

    def trigger_signal(self, task_id: int) -> signals.TRIGGERFAIL:
        spec = getattr(self.frozen.tasks[task_id].trigger, "_ff_spec", ("custom",))
        return signals.TRIGGERFAIL(_TRIGGER_MESSAGES.get(spec[0], "Trigger failed."))

    def result(self, task_id: int, index: int, code: int) -> Any:
        """The value a state carries: the return value, or the failure it ended with."""
        if index == TASK_LEVEL:
            value = self.values[task_id]
        else:
            value = self.child_values(task_id)[index]
        if value is None and code == _core.TRIGGER_FAILED and (task_id, index) not in self.details:
            # Decided by the core without Python: build the signal lazily.
            value = self.trigger_signal(task_id)
        return value

    def reduced(self, task_id: int) -> list:
        """The list a downstream task receives from a mapped task: one entry per
        child, the child's value or the exception it failed with."""
        values = list(self.child_values(task_id))
        codes = self.core.child_states(task_id)
        tf = bytes([_core.TRIGGER_FAILED])
        at = codes.find(tf)
        while at != -1:
            values[at] = self.result(task_id, at, _core.TRIGGER_FAILED)
            at = codes.find(tf, at + 1)
        return values

    def value(self, task_id: int) -> Any:
        """A task's value as seen through an unmapped edge."""
        code = self.core.task_state(task_id)
        if code == _core.MAPPED:
            return self.reduced(task_id)
        return self.result(task_id, TASK_LEVEL, code)

    def upstream_skipped(self, task_id: int, index: int) -> bool:
        """Whether any upstream state of a task run (or of child ``index``) is Skipped."""
        frozen, core = self.frozen, self.core
        for edge in frozen.in_edges[task_id]:
            up = frozen.index[edge.upstream_task]
            code = core.task_state(up)
            if code == _core.SKIPPED:
                return True
            if code != _core.MAPPED:
                continue
            children = core.child_states(up)
            if edge.mapped and not edge.flattened and index != TASK_LEVEL:
                if children[index] == _core.SKIPPED:
                    return True
            elif _core.SKIPPED in children:
                return True
        return False

    # ----- states ------------------------------------------------------------------

    def message(self, task_id: int, index: int, code: int, run_count: int) -> Any:
        detail = self.details.get((task_id, index))
        if code == _core.RETRYING:
            task = self.frozen.tasks[task_id]
            return f"Retrying Task (after attempt {run_count} of {task.max_retries + 1})"
        if detail is not None:
            return detail[0]
        task = self.frozen.tasks[task_id]
        if code == _core.SUCCESS:
            return "Task run succeeded."
        if code == _core.MAPPED:
            return "Ready to proceed with mapping."
        if code == _core.SKIPPED:
            by_trigger = getattr(task.trigger, "_ff_spec", ("custom",))[0] == "not_all_skipped"
            if task.skip_on_upstream_skip and not (by_trigger and not self.upstream_skipped(task_id, index)):
                return UPSTREAM_SKIPPED
            return "All upstreams were skipped"
        if code == _core.TRIGGER_FAILED:
            return str(self.trigger_signal(task_id))
        if code == _core.FAILED and index == TASK_LEVEL:
            return NOTHING_TO_MAP
        if code == _core.CANCELLED:
            return self.cancel_message
        if code == _core.PENDING:
            return "Task not run."
        return None

    def state(self, task_id: int, index: int = TASK_LEVEL) -> states.State:
        """Build the State of a task run (``index`` = TASK_LEVEL) or of one child."""
        if index == TASK_LEVEL:
            code = self.core.task_state(task_id)
            run_count = max(1, self.core.task_run_count(task_id))
        else:
            code = self.core.child_states(task_id)[index]
            run_count = max(1, self.core.child_run_counts(task_id)[index])
        cls = STATE_CLASSES[code]
        detail = self.details.get((task_id, index))
        traceback = detail[1] if detail else None
        message = self.message(task_id, index, code, run_count)
        logs = self.logs.get((task_id, index), ())
        if code == _core.MAPPED:
            children = ChildStates(self, task_id)
            return states.Mapped(message, self.reduced(task_id), map_states=children, run_count=run_count, logs=logs)
        return cls(message, self.result(task_id, index, code), traceback=traceback, run_count=run_count, logs=logs,
                   location=self.locations.get((task_id, index)))


class ChildStates(Sequence):
    """The states of a mapped task's children, built one by one on access."""

    def __init__(self, record: RunRecord, task_id: int):
        self._record = record
        self._task_id = task_id
        self._len = record.core.width(task_id) or 0

    def __len__(self) -> int:
        return self._len

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._len))]
        if index < 0:
            index += self._len
        if not 0 <= index < self._len:
            raise IndexError(f"child index {index} out of range for {self._len} children")
        return self._record.state(self._task_id, index)

    def counts(self) -> dict:
        """Number of children per state name, without building any State."""
        tally = self._record.core.tallies()[self._task_id]
        tally[self._record.core.task_state(self._task_id)] -= 1
        return {_core.STATE_NAMES[c]: n for c, n in enumerate(tally) if n}

    def __repr__(self) -> str:
        return f"<{self._len} child states of {self._record.frozen.tasks[self._task_id].name!r}: {self.counts()}>"


class TaskStates(dict):
    """``flow_state.result``: a ``dict`` of every task of the flow to its State.

    A real ``dict`` (Prefect 1 code checks ``isinstance(state.result, dict)``) whose
    States are built when first read: ``result[task]``, ``get`` and ``in`` build (at
    most) that task's State; anything that sees the whole dict (iteration, ``items``,
    ``dict(result)``, ``==``, ``repr``, changes) builds the rest first. A mapped task's
    children stay lazy either way (``map_states``)."""

    def __init__(self, record: RunRecord):
        super().__init__()
        self._record: Any = record  # None once every State is built

    def __missing__(self, task: Any) -> states.State:
        record = self._record
        if record is None:
            raise KeyError(task)
        state = record.state(record.frozen.index[task])  # KeyError for a foreign task
        dict.__setitem__(self, task, state)
        return state

    def get(self, task: Any, default: Any = None) -> Any:
        try:
            return self[task]
        except KeyError:
            return default

    def __contains__(self, task: object) -> bool:
        record = self._record
        if record is None:
            return dict.__contains__(self, task)
        try:
            return task in record.frozen.index
        except TypeError:  # unhashable
            return False

    def __len__(self) -> int:
        record = self._record
        return dict.__len__(self) if record is None else len(record.frozen.tasks)

    def _build_all(self) -> None:
        record = self._record
        if record is not None:
            for task in record.frozen.tasks:
                if not dict.__contains__(self, task):
                    self.__missing__(task)
            self._record = None

    def __reduce__(self) -> tuple:
        return dict, (dict(self.items()),)


def _building_all(name: str) -> Any:
    method = getattr(dict, name)

    def whole(self: TaskStates, *args: Any, **kwargs: Any) -> Any:
        self._build_all()
        return method(self, *args, **kwargs)

    whole.__name__ = whole.__qualname__ = name
    whole.__doc__ = method.__doc__
    return whole


for _name in ("__iter__", "__reversed__", "__eq__", "__ne__", "__repr__", "__or__", "__ror__", "__ior__",
              "keys", "values", "items", "copy", "pop", "popitem", "clear", "update", "setdefault",
              "__setitem__", "__delitem__"):
    setattr(TaskStates, _name, _building_all(_name))
del _name
