"""Live progress of a flow run, and the summary table printed when it ends.

The engine reports progress through the small :class:`ProgressReporter` protocol; it
hands over *snapshots* (counts of task runs by state, per task), never one call per
task run, so a display costs nothing per task run whatever the flow's size.
:class:`ProgressDisplay` is the CLI's implementation: on a terminal a table redrawn in
place by ``rich`` (``rich.live``), elsewhere a line every two seconds.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TextIO, runtime_checkable

from ferroflow.cli.formatting import format_duration, format_table, shorten
from ferroflow.cli.terminal import is_terminal, make_console, styled_table, terminal_for
from ferroflow.descriptions import printable
from ferroflow.errors import one_line
from ferroflow.state_codes import DISPLAY_ORDER, FAILED_NAMES, FINISHED_NAMES

__all__ = [
    "FINISHED_STATES",
    "STATE_NAMES",
    "ProgressDisplay",
    "ProgressReporter",
    "Snapshot",
    "first_error_line",
    "render_summary",
]

#: Every state name a snapshot may count, in the order columns are shown.
STATE_NAMES: tuple[str, ...] = DISPLAY_ORDER

#: State names counted as "done" (terminal states).
FINISHED_STATES: frozenset[str] = FINISHED_NAMES

_FAILED_STATES = FAILED_NAMES

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.live import Live

#: One entry per task, in topological order: (display name, {state name: count}).
Snapshot = Sequence[tuple[str, Mapping[str, int]]]


@runtime_checkable
class ProgressReporter(Protocol):
    """What the engine calls to report a flow run's progress.

    Contract for the engine (``run_flow(..., progress=reporter)``):

    * ``start`` once, before the first task run starts.
    * ``update`` with a full snapshot whenever something changed, **at most about
      10 times per second** whatever the flow's size (the engine throttles; a
      reporter may also throttle further). Never once per task run.
    * ``update`` once more with the final snapshot just before ``finish``, so the
      summary's counts are exact.
    * ``finish`` exactly once with the flow run's final state, also when the run
      failed or was cancelled (Ctrl-C).

    Reporters must be cheap (they only render counts) and must not raise; an engine
    may log and ignore an exception raised by a reporter.
    """

    def start(self, flow_name: str, task_names: list[str]) -> None:
        """The run of flow ``flow_name`` starts; ``task_names`` in topological order.

        ``task_names`` are the tasks' display names, in the order later snapshots
        use. Display names should be the tasks' names, made unique if needed.
        """

    def update(self, snapshot: Snapshot) -> None:
        """Progress so far.

        ``snapshot`` has one ``(display_name, counts)`` entry per task, in topological
        order; ``counts`` maps a state name (``Pending``, ``Running``, ``Retrying``,
        ``Success``, ``Cached``, ``Mapped``, ``Skipped``, ``Failed``,
        ``TriggerFailed``, ``TimedOut``, ``Cancelled``, ``Paused``) to how many of
        this task's runs (its mapped children, for a mapped task) are in that state.
        Absent or zero counts mean none. The reporter may keep the snapshot; the
        engine must not mutate it afterwards.
        """

    def finish(self, state: Any) -> None:
        """The run ended in ``state`` (a :class:`ferroflow.states.State`).

        ``state.result`` is a dict task -> final task State when the run got as far as
        running tasks; otherwise it may be an exception (``state.message`` says why).
        """


class ProgressDisplay:
    """The CLI's progress reporter: a live table, then a summary.

    Args:
        stream: Where live progress goes (default ``sys.stderr``).
        summary_stream: Where the final summary goes (default ``sys.stdout``).
        mode: ``"auto"`` (``"tty"`` when ``stream`` is a terminal and ``TERM`` is
            not ``dumb``, else ``"lines"``), ``"tty"`` (a table redrawn in place by
            ``rich.live``, at most every ``interval`` seconds, 0.1 by default),
            ``"lines"`` (one line at most every ``interval`` seconds, 2 by default:
            small logs for CI and pipes) or ``"off"`` (no live output; the summary is
            still printed).
        interval: Minimum seconds between two live outputs.
        clock: Monotonic clock in seconds (tests pass a fake one).
        size: ``(columns, lines)`` of the terminal; measured when ``None``.
        render_share: In ``"tty"`` mode, the largest share of the run's time the
            drawing may take: after a draw that took ``d`` seconds, the next waits at
            least ``d / render_share`` (a table of many tasks on a slow terminal is
            drawn less often). None: only ``interval`` counts.

    In ``"tty"`` mode a snapshot equal to the last one drawn (only the clock moved) is
    drawn at most once a second. The display draws in the engine's thread, only when
    the engine reports (no thread of its own), so it costs nothing per task run.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        summary_stream: TextIO | None = None,
        *,
        mode: str = "auto",
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        size: tuple[int, int] | None = None,
        render_share: float | None = 0.02,
    ) -> None:
        if mode not in {"auto", "tty", "lines", "off"}:
            raise ValueError(f"mode must be 'auto', 'tty', 'lines' or 'off', not {mode!r}")
        self.stream = stream if stream is not None else sys.stderr
        self.summary_stream = summary_stream if summary_stream is not None else sys.stdout
        if mode == "auto":
            mode = "tty" if is_terminal(self.stream) else "lines"
        self.mode = mode
        self.interval = interval if interval is not None else (0.1 if mode == "tty" else 2.0)
        self._clock = clock
        self._size = size
        self._render_share = render_share
        self.flow_name = ""
        self.task_names: list[str] = []
        self.snapshot: Snapshot = []
        self._started: float | None = None
        self._last_output: float | None = None
        self._console: Console | None = None
        self._live: Live | None = None  # while the table is on the terminal
        self._drawn: Snapshot | None = None  # the snapshot last drawn
        self._draw_seconds = 0.0  # what the last draw took
        if mode == "tty":
            # rich is loaded here, before the run's clock starts (about 20 ms, once).
            import rich.live  # noqa: F401

            self._console = make_console(self.stream, size=size)

    # -- protocol ------------------------------------------------------------

    def start(self, flow_name: str, task_names: list[str]) -> None:
        """Remember the flow and its tasks; print a first line in ``lines`` mode."""
        self.flow_name = flow_name
        self.task_names = list(task_names)
        self.snapshot = [(name, {}) for name in self.task_names]
        self._started = self._clock()
        if self.mode == "lines":
            n = len(self.task_names)
            self._write(f"Running flow {flow_name!r} ({n} task{'s' if n != 1 else ''})\n")
            self._last_output = self._started
        elif self.mode == "tty":
            self._redraw()

    def update(self, snapshot: Snapshot) -> None:
        """Keep ``snapshot``; render it unless the last output is too recent."""
        self.snapshot = snapshot
        if self.mode == "off":
            return
        now = self._clock()
        if self._last_output is not None and now - self._last_output < self._wait(snapshot) - 1e-6:
            return
        if self.mode == "tty":
            self._redraw(now)
        else:
            self._write(self.render_line(now) + "\n")
            self._last_output = now

    def finish(self, state: Any) -> None:
        """Erase the live table and print the summary table."""
        self.close()
        elapsed = self.elapsed()
        text = render_summary(self.flow_name, state, self.snapshot, elapsed=elapsed,
                              console=terminal_for(self.summary_stream))
        self.summary_stream.write(text)
        self.summary_stream.flush()

    # -- helpers ---------------------------------------------------------------

    def close(self) -> None:
        """Erase the live table (TTY mode); the next update draws it again, below what
        was written meanwhile. Safe to call more than once."""
        live, self._live = self._live, None
        if live is not None:
            from rich.text import Text

            try:
                # Live.stop() draws once more before erasing: drawing nothing is cheaper.
                live.update(Text(""))
                live.stop()
            except (OSError, ValueError):  # closed terminal: progress is not worth a crash
                pass

    def elapsed(self, now: float | None = None) -> float:
        """Seconds since :meth:`start` (0 before it)."""
        if self._started is None:
            return 0.0
        return max(0.0, (self._clock() if now is None else now) - self._started)

    def totals(self) -> tuple[int, int, dict[str, int]]:
        """``(total, done, counts by state)`` over every task of the last snapshot."""
        return _totals(self.snapshot)

    def render_line(self, now: float | None = None) -> str:
        """One line for logs: elapsed, runs done/total, counts by state, throughput."""
        elapsed = self.elapsed(now)
        total, done, counts = self.totals()
        states = ", ".join(f"{name} {_n(counts[name])}" for name in _ordered(counts) if counts[name])
        rate = done / elapsed if elapsed > 0 else 0.0
        return (f"[{format_duration(elapsed):>7}] {self.flow_name}: {_n(done)}/{_n(total)} task runs done"
                + (f" ({states})" if states else "") + f", {_rate(rate)} runs/s")

    def render_table(self, now: float | None = None) -> list[str]:
        """The live table's lines as plain text (what the terminal shows, without its
        colours), fitted to the terminal."""
        columns, _ = self._terminal_size()
        header, table, footer = self._table_parts(now)
        out = [header, *format_table(table, right_from=1)] + ([footer] if footer else [])
        return [line[: max(10, columns - 1)] for line in out]

    def renderable(self, now: float | None = None) -> RenderableType:
        """The live table as ``rich`` draws it (:meth:`render_table` with a bold header)."""
        from rich.console import Group
        from rich.text import Text

        header, table, footer = self._table_parts(now)
        parts: list[Any] = [Text(header, no_wrap=True, overflow="ellipsis"), styled_table(table, right_from=1)]
        if footer:
            parts.append(Text(footer, no_wrap=True, overflow="ellipsis"))
        return Group(*parts)

    def _table_parts(self, now: float | None) -> tuple[str, list[list[str]], str]:
        """The live table's title line, its rows (the header first; at most as many as
        the terminal has lines, unfinished and failing tasks first) and the line saying
        how many were left out (empty when none)."""
        _, lines = self._terminal_size()
        elapsed = self.elapsed(now)
        total, done, counts = self.totals()
        rate = done / elapsed if elapsed > 0 else 0.0
        header = (f"flow {self.flow_name!r}  elapsed {format_duration(elapsed)}  "
                  f"{_n(done)}/{_n(total)} task runs done  {_rate(rate)} runs/s")
        states = [name for name in _ordered(counts) if counts[name]]
        rows = [_row(name, task_counts) for name, task_counts in self.snapshot]
        max_rows = max(3, lines - 4)
        hidden: list[tuple[int, int]] = []
        if len(rows) > max_rows:
            keep, hidden = _pick_rows(rows, max_rows - 1)
            rows = [rows[i] for i in keep]
        table = [["TASK", "TOTAL", "DONE", *states]]
        for name, task_total, task_done, task_counts in rows:
            table.append([shorten(name, 40), _n(task_total), _n(task_done),
                          *(_n(task_counts.get(s, 0)) if task_counts.get(s, 0) else "" for s in states)])
        footer = ""
        if hidden:
            finished = sum(1 for total_, done_ in hidden if total_ and total_ == done_)
            footer = f"... {len(hidden)} more tasks ({finished} finished)"
        return header, table, footer

    def _terminal_size(self) -> tuple[int, int]:
        if self._size is not None:
            return self._size
        size = shutil.get_terminal_size(fallback=(100, 30))
        return size.columns, size.lines

    def _wait(self, snapshot: Snapshot) -> float:
        """Seconds to leave between the last output and the next one."""
        if self.mode != "tty":
            return self.interval
        wait = self.interval
        if self._render_share:
            wait = max(wait, self._draw_seconds / self._render_share)
        if snapshot == self._drawn:
            wait = max(wait, 1.0)  # only the clock moved
        return wait

    def _redraw(self, now: float | None = None) -> None:
        now = self._clock() if now is None else now
        began = self._clock()
        try:
            if self._live is None:
                from rich.live import Live

                assert self._console is not None  # (made in "tty" mode)
                self._live = Live(self.renderable(now), console=self._console, auto_refresh=False,
                                  transient=True, redirect_stdout=False, redirect_stderr=False)
                self._live.start(refresh=True)
            else:
                self._live.update(self.renderable(now), refresh=True)
        except (OSError, ValueError):  # closed terminal: progress is not worth a crash
            pass
        self._draw_seconds = self._clock() - began
        self._drawn = self.snapshot
        self._last_output = now

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # closed pipe: progress is not worth a crash
            pass


# ---------------------------------------------------------------------------
# summary
# ---------------------------------------------------------------------------


def render_summary(flow_name: str, state: Any, snapshot: Snapshot = (), *,
                   elapsed: float | None = None, console: Console | None = None) -> str:
    """The summary table printed when a run ends.

    One row per task (in the snapshot's topological order when it names the tasks):
    name, final state, and details (child counts by state for a
    mapped task, the first line of the error for a failed one); then the flow's final
    state and message, and the elapsed time and throughput when ``elapsed`` is given;
    the executor the run ran on (``state.executor``, as the engine sets it).
    ``snapshot`` (the last one) supplies child counts; without it they are counted from
    ``Mapped.map_states``. With a terminal's ``console`` the table is drawn by ``rich``
    (see :func:`~ferroflow.cli.formatting.format_table`).
    """
    by_name: dict[str, Mapping[str, int]] = {}
    duplicates: set[str] = set()
    for name, counts in snapshot:
        if name in by_name:
            duplicates.add(name)
        by_name[name] = counts
    for name in duplicates:
        del by_name[name]

    results = getattr(state, "result", None)
    task_states = results if isinstance(results, Mapping) else getattr(state, "task_states", None)
    table = [["TASK", "STATE", "DETAILS"]]
    if isinstance(task_states, Mapping):
        rows = []
        for task, task_state in task_states.items():
            name = _task_name(task)
            rows.append([name, type(task_state).__name__, _details(task_state, by_name.get(name))])
        # Topological order, as in the live table, when the snapshot names the tasks.
        position = {name: i for i, (name, _) in enumerate(snapshot) if name in by_name}
        rows.sort(key=lambda row: position.get(row[0], len(position)))
        table.extend(rows)

    lines: list[str] = []
    flow_state = type(state).__name__
    message = getattr(state, "message", None)
    title = f"Flow {flow_name!r}: {flow_state}" if flow_name else f"Flow run: {flow_state}"
    if message:
        title += f" - {_first_line(message)}"
    lines.append(title)
    if elapsed is not None:
        _, done, counts = _totals(snapshot)
        cancelled = counts.get("Cancelled", 0)
        ran = done - cancelled
        rate = ran / elapsed if elapsed > 0 else 0.0
        line = f"{_n(ran)} task runs in {format_duration(elapsed)} ({_rate(rate)} runs/s)"
        lines.append(line + (f", {_n(cancelled)} cancelled" if cancelled else ""))
    run_name = getattr(state, "run_name", None)
    if isinstance(run_name, str) and run_name:
        lines.append(f"Name: {printable(run_name)}")
    executor = getattr(state, "executor", None)
    if isinstance(executor, str) and executor:
        lines.append(f"Executor: {printable(executor)}")
    if isinstance(results, BaseException):
        lines.append(f"error: {first_error_line(state)}")
    if len(table) > 1:
        lines.append("")
        lines.extend(format_table(table, console=console, state_column=1))
    return "\n".join(lines) + "\n"


def first_error_line(state: Any) -> str:
    """The first line of a failed state's error: ``ExcType: message``, else its message."""
    result = getattr(state, "result", None)
    if isinstance(result, BaseException):
        return one_line(result)
    message = getattr(state, "message", None)
    if message:
        return _first_line(str(message))
    return type(state).__name__


def _details(task_state: Any, counts: Mapping[str, int] | None) -> str:
    name = type(task_state).__name__
    parts: list[str] = []
    map_states = None
    if name == "Mapped" or hasattr(task_state, "map_states"):
        if counts is None:
            map_states = getattr(task_state, "map_states", None) or []
            tally: dict[str, int] = {}
            for child in map_states:
                child_name = type(child).__name__
                tally[child_name] = tally.get(child_name, 0) + 1
            counts = tally
        else:
            counts = {k: v for k, v in counts.items() if k != "Mapped"}
        n = sum(v for v in counts.values() if v)
        states = ", ".join(f"{s} {_n(counts[s])}" for s in _ordered(counts) if counts[s])
        parts.append(f"{_n(n)} children" + (f": {states}" if states else ""))
        if any(counts.get(s) for s in _FAILED_STATES):
            if map_states is None:
                map_states = getattr(task_state, "map_states", None) or []
            for index, child in enumerate(map_states):
                if type(child).__name__ in _FAILED_STATES:
                    parts.append(f"first failure [{index}]: {first_error_line(child)}")
                    break
    elif name in _FAILED_STATES or name == "Cancelled":
        parts.append(first_error_line(task_state))
    elif name in {"Skipped", "Retrying", "Paused"} and getattr(task_state, "message", None):
        parts.append(_first_line(task_state.message))
    return "; ".join(parts)


# ---------------------------------------------------------------------------
# formatting helpers
# ---------------------------------------------------------------------------


def _row(name: str, counts: Mapping[str, int]) -> tuple[str, int, int, Mapping[str, int]]:
    total = sum(v for v in counts.values() if v)
    done = sum(v for k, v in counts.items() if v and k in FINISHED_STATES)
    return name, total, done, counts


def _totals(snapshot: Snapshot) -> tuple[int, int, dict[str, int]]:
    counts: dict[str, int] = {}
    for _, task_counts in snapshot:
        for state, n in task_counts.items():
            if n:
                counts[state] = counts.get(state, 0) + n
    total = sum(counts.values())
    done = sum(n for state, n in counts.items() if state in FINISHED_STATES)
    return total, done, counts


def _pick_rows(rows: list[tuple[str, int, int, Mapping[str, int]]],
               limit: int) -> tuple[list[int], list[tuple[int, int]]]:
    """Indices of the rows to show (unfinished or failing first), and the hidden rows."""
    def interesting(row: tuple[str, int, int, Mapping[str, int]]) -> bool:
        _, total, done, counts = row
        return total == 0 or done < total or any(counts.get(s) for s in _FAILED_STATES)

    first = [i for i, row in enumerate(rows) if interesting(row)]
    rest = [i for i, row in enumerate(rows) if not interesting(row)]
    keep = sorted((first + rest)[:limit])
    kept = set(keep)
    hidden = [(rows[i][1], rows[i][2]) for i in range(len(rows)) if i not in kept]
    return keep, hidden


def _ordered(counts: Mapping[str, int]) -> list[str]:
    known = [s for s in STATE_NAMES if s in counts]
    return known + sorted(s for s in counts if s not in STATE_NAMES)


def _task_name(task: Any) -> str:
    name = getattr(task, "name", None)
    return str(name) if name else str(task)


def _first_line(text: Any) -> str:
    stripped = str(text).strip()
    return stripped.splitlines()[0] if stripped else ""


def _n(n: int) -> str:
    return f"{n:,}"


def _rate(rate: float) -> str:
    return f"{rate:,.0f}" if rate >= 100 else f"{rate:.1f}"
