"""Type stub of ferroflow._core, the compiled Rust core (see rust/python/src)."""

from collections.abc import Callable, Sequence
from typing import final

__all__ = [
    "Graph",
    "Ledger",
    "Run",
    "TaskSpec",
    "layered_layout",
    "layered_svg",
    "PENDING",
    "RUNNING",
    "RETRYING",
    "PAUSED",
    "SUCCESS",
    "CACHED",
    "MAPPED",
    "SKIPPED",
    "FAILED",
    "TRIGGER_FAILED",
    "TIMED_OUT",
    "CANCELLED",
    "RETRY_OK",
    "STATE_NAMES",
    "ITEM_RUN",
    "ITEM_PREPARE",
    "ITEM_DECIDED",
    "VERDICT_ALL_SUCCEEDED",
    "VERDICT_SOME_FAILED",
    "VERDICT_NONE_FAILED",
    "TRIGGERS",
    "__version__",
]

PENDING: int
RUNNING: int
RETRYING: int
PAUSED: int
SUCCESS: int
CACHED: int
MAPPED: int
SKIPPED: int
FAILED: int
TRIGGER_FAILED: int
TIMED_OUT: int
CANCELLED: int
RETRY_OK: int
STATE_NAMES: list[str]
ITEM_RUN: int
ITEM_PREPARE: int
ITEM_DECIDED: int
VERDICT_ALL_SUCCEEDED: int
VERDICT_SOME_FAILED: int
VERDICT_NONE_FAILED: int
TRIGGERS: list[str]
__version__: str

_Indices = range | list[int]

def layered_layout(
    n: int, ups: Sequence[int], downs: Sequence[int]
) -> tuple[list[int], list[float], list[list[tuple[int, float]]], int, float]:
    """Lay out ``n`` nodes joined by the edges ``ups[i] -> downs[i]`` in layers, left to
    right (Sugiyama style; see ``rust/core/src/layout.rs``).

    Returns ``(layer, position, bends, layers, breadth)``: per node its layer (0 =
    sources) and its position across the layer (in slots, >= 0, nodes of a layer at
    least 1 apart); per edge, in input order, the ``(layer, position)`` points it bends
    through (empty when it spans one layer, is a self loop, breaks a cycle or is drawn
    straight over the dummy budget of ``4 n + 1000``); the number of layers; the max
    position + 1. Self loops and duplicate edges are ignored. Raises ValueError when
    ``ups`` and ``downs`` differ in length or name a node outside ``0..n``. Runs without
    the GIL.
    """

def layered_svg(
    n: int,
    ups: Sequence[int],
    downs: Sequence[int],
    left: int,
    layer_pitch: int,
    node_w: int,
    mid: int,
    slot_pitch: float,
) -> tuple[list[int], list[int], list[str | None], int, float]:
    """The layout of :func:`layered_layout` in pixels, left to right: returns ``(x, y,
    paths, layers, breadth)``, per node the x of its box's left side (``left + layer *
    layer_pitch``) and the y of its middle (``mid + round(position * slot_pitch)``), per
    edge its SVG path (``d``, from the upstream box's right side to the downstream box's
    left side; boxes are ``node_w`` wide) or None when it is not drawn (an end outside
    ``0..n``, a self loop, or a repeat of an earlier edge: skipped, not refused), the
    number of layers and the max position + 1. Raises ValueError when ``ups`` and
    ``downs`` differ in length or ``n`` is negative. Runs without the GIL.
    """

@final
class Graph:
    def __new__(cls, names: list[str], edges: list[tuple[int, int, bool, bool]]) -> Graph: ...
    @staticmethod
    def of_edges(names: list[str], in_edges: list[list[tuple]], index: dict) -> Graph: ...
    def mapped_into(self) -> list[bool]: ...
    def whole_inputs(self) -> list[tuple[tuple[str, int], ...] | None]: ...
    def edge_count(self) -> int: ...
    def order(self) -> list[int]: ...
    def __len__(self) -> int: ...

@final
class TaskSpec:
    @property
    def trigger(self) -> str: ...
    @property
    def at_least(self) -> float | None: ...
    @property
    def at_most(self) -> float | None: ...
    @property
    def skip_on_upstream_skip(self) -> bool: ...
    @property
    def max_retries(self) -> int: ...
    @property
    def retry_delays_ms(self) -> list[int]: ...
    @property
    def retry_jitter(self) -> float: ...
    @property
    def retry_seed(self) -> int: ...
    @property
    def n_constants(self) -> int: ...
    @property
    def observed(self) -> bool: ...
    @property
    def decided(self) -> int | None: ...
    def __new__(
        cls,
        trigger: str = "all_successful",
        *,
        at_least: float | None = None,
        at_most: float | None = None,
        skip_on_upstream_skip: bool = True,
        max_retries: int = 0,
        retry_delays_ms: Sequence[int] = ...,
        retry_jitter: float = 0.0,
        retry_seed: int = 0,
        n_constants: int = 0,
        observed: bool = False,
        decided: int | None = None,
    ) -> TaskSpec: ...

@final
class Run:
    def __new__(cls, graph: Graph, specs: Sequence[TaskSpec]) -> Run: ...
    def next_batch(self, max_items: int, now_ms: int) -> list[tuple[int, int, _Indices | None, int | None]]: ...
    def report(self, reports: list[tuple[int, _Indices | None, int | bytes]], now_ms: int) -> None: ...
    def mark_inline(self, tasks: list[int]) -> None: ...
    def run_inline(
        self, execute: Callable[[int, int], int], max_runs: int, budget_ms: int, now_ms: int
    ) -> tuple[list[int], tuple[int, int] | None]: ...
    def prepared(
        self,
        task: int,
        width_hint: int | None = None,
        flat: Sequence[tuple[int, list[int]]] = ...,
        fail_code: int | None = None,
    ) -> None: ...
    def cancel(self) -> None: ...
    def is_complete(self) -> bool: ...
    def is_stalled(self) -> bool: ...
    def has_ready(self) -> bool: ...
    def in_flight(self) -> int: ...
    def next_timer(self) -> int | None: ...
    def task_states(self) -> bytes: ...
    def task_state(self, task: int) -> int: ...
    def task_run_count(self, task: int) -> int: ...
    def task_run_counts(self) -> bytes: ...
    def width(self, task: int) -> int | None: ...
    def child_states(self, task: int) -> bytes: ...
    def child_run_counts(self, task: int, start: int = 0, stop: int | None = None) -> bytes: ...
    def tallies(self) -> list[list[int]]: ...
    def verdict(self, reference: list[int]) -> int: ...
    def pending_retries(self) -> list[tuple[int, int, int | None]]: ...
    def retry_delay_ms(self, task: int, index: int | None, attempt: int) -> int: ...

@final
class Ledger:
    """The bookkeeping of an eager flow run: tasks met as the function calls them,
    one state byte per call (numbered in call order), the retry rule of deferred runs."""

    def __init__(self) -> None: ...
    def add_task(
        self, max_retries: int = 0, retry_delays_ms: list[int] = ..., retry_jitter: float = 0.0, retry_seed: int = 0
    ) -> int: ...
    def __len__(self) -> int: ...
    def reserve(self, task: int, n: int = 1) -> int: ...
    def outcome(self, task: int, index: int, runs: int, code: int) -> tuple[int, int | None]: ...
    def record(self, task: int, first: int, codes: bytes | bytearray) -> None: ...
    def code(self, task: int, index: int) -> int: ...
    def width(self, task: int) -> int: ...
    def codes(self, task: int) -> bytes: ...
    def tallies(self, task: int) -> list[int]: ...
    def task_code(self, task: int) -> int: ...
    def end_open(self, code: int) -> list[tuple[int, int]]: ...
    def unreported(self, task: int) -> tuple[int | None, list[tuple[int, bytes]]]: ...
