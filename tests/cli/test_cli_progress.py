"""The live progress display and the summary table, from synthetic snapshots."""

from __future__ import annotations

import io

import pytest

from ferroflow.cli.progress import (
    ProgressDisplay,
    ProgressReporter,
    first_error_line,
    render_summary,
)
from ferroflow.states import Cancelled, Failed, Mapped, Skipped, Success, TriggerFailed
from tests.support.terminal import screen, strip_styles


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FakeTask:
    def __init__(self, name):
        self.name = name


class TTYStream(io.StringIO):
    def isatty(self) -> bool:
        return True


SNAPSHOT_1 = [
    ("extract", {"Success": 1}),
    ("transform", {"Running": 4, "Success": 96, "Pending": 900}),
    ("load", {"Pending": 1}),
]
SNAPSHOT_2 = [
    ("extract", {"Success": 1}),
    ("transform", {"Success": 999, "Failed": 1}),
    ("load", {"TriggerFailed": 1}),
]


def make(mode, **kwargs):
    clock = Clock()
    stream = TTYStream() if mode == "tty" else io.StringIO()
    summary = io.StringIO()
    kwargs.setdefault("render_share", None)  # (the fake clock does not move while drawing anyway)
    display = ProgressDisplay(stream, summary, mode=mode, clock=clock, size=(100, 30), **kwargs)
    return display, stream, summary, clock


def test_display_implements_the_protocol():
    assert isinstance(ProgressDisplay(io.StringIO(), io.StringIO()), ProgressReporter)


def test_auto_mode_follows_the_stream(monkeypatch):
    monkeypatch.setenv("TERM", "xterm")
    assert ProgressDisplay(TTYStream(), io.StringIO()).mode == "tty"
    assert ProgressDisplay(io.StringIO(), io.StringIO()).mode == "lines"
    monkeypatch.setenv("TERM", "dumb")
    assert ProgressDisplay(TTYStream(), io.StringIO()).mode == "lines"
    with pytest.raises(ValueError, match="mode must be"):
        ProgressDisplay(mode="fancy")


def test_tty_table_rendering():
    display, stream, _, clock = make("tty")
    display.start("etl", ["extract", "transform", "load"])
    clock.now += 2.0
    display.update(SNAPSHOT_1)
    assert display.render_table() == [
        "flow 'etl'  elapsed 2.00s  97/1,002 task runs done  48.5 runs/s",
        "TASK       TOTAL  DONE  Pending  Running  Success",
        "extract        1     1                          1",
        "transform  1,000    96      900        4       96",
        "load           1     0        1",
    ]


def test_tty_draws_with_rich_what_render_table_says():
    display, stream, _, clock = make("tty")
    display.start("etl", ["extract", "transform", "load"])
    first = stream.getvalue()
    assert screen(first) == display.render_table()  # header, column titles, three tasks
    assert "\x1b[1mTASK" in first  # the column titles in bold
    clock.now += 1.0
    display.update(SNAPSHOT_1)
    second = stream.getvalue()[len(first):]
    assert second.startswith("\r\x1b[2K" + "\x1b[1A\x1b[2K" * 4)  # up over the previous table, erased
    assert screen(stream.getvalue()) == display.render_table()  # drawn again in place
    assert screen(stream.getvalue())[3] == "transform  1,000    96      900        4       96"


def test_tty_never_reads_markup_in_task_names():
    display, stream, _, clock = make("tty")
    display.start("[bold red]x[/]", ["[red]t[/red]"])
    clock.now += 1.0
    display.update([("[red]t[/red]", {"Success": 1})])
    shown = screen(stream.getvalue())
    assert shown[0].startswith("flow '[bold red]x[/]'")
    assert shown[2].startswith("[red]t[/red]")


def test_tty_updates_are_throttled():
    display, stream, _, clock = make("tty")
    display.start("etl", ["extract", "transform", "load"])
    size = len(stream.getvalue())
    clock.now += 0.05
    display.update(SNAPSHOT_1)  # too soon after the last draw
    assert len(stream.getvalue()) == size
    assert display.snapshot is SNAPSHOT_1  # kept for the next draw and the summary
    clock.now += 0.06
    display.update(SNAPSHOT_1)
    assert len(stream.getvalue()) > size


def test_tty_draws_an_unchanged_snapshot_once_a_second():
    display, stream, _, clock = make("tty")
    display.start("etl", ["extract", "transform", "load"])
    clock.now += 0.1
    display.update(SNAPSHOT_1)
    size = len(stream.getvalue())
    for _ in range(9):  # the same counts for 0.9 s: only the clock would move
        clock.now += 0.1
        display.update(list(SNAPSHOT_1))
    assert len(stream.getvalue()) == size
    clock.now += 0.1
    display.update(list(SNAPSHOT_1))
    assert len(stream.getvalue()) > size
    assert screen(stream.getvalue())[0].startswith("flow 'etl'  elapsed 1.10s")
    size = len(stream.getvalue())
    clock.now += 0.1
    display.update(SNAPSHOT_2)  # new counts: drawn at once
    assert len(stream.getvalue()) > size


def test_tty_draws_less_often_when_drawing_is_slow():
    class SlowTerminal(TTYStream):  # each write takes 10 ms of the display's clock
        def write(self, text):
            clock.now += 0.01
            return super().write(text)

    clock = Clock()
    stream = SlowTerminal()
    display = ProgressDisplay(stream, io.StringIO(), mode="tty", clock=clock, size=(100, 30), render_share=0.02)
    display.start("etl", ["extract", "transform", "load"])
    draws = 0
    for i in range(100):  # ten seconds of snapshots, each a new one
        size = len(stream.getvalue())
        clock.now += 0.1
        display.update([("extract", {"Success": 1}), ("transform", {"Success": i}), ("load", {})])
        draws += len(stream.getvalue()) > size
    # A draw takes >= 10 ms, so the next waits >= 0.5 s: at most about 2 a second, not 10.
    assert 5 <= draws <= 21


def test_tty_table_fits_a_small_terminal():
    clock = Clock()
    stream = TTYStream()
    display = ProgressDisplay(stream, io.StringIO(), mode="tty", clock=clock, size=(40, 10), render_share=None)
    names = [f"task_{i}" for i in range(50)]
    display.start("big", names)
    snapshot = [(name, {"Success": 1}) for name in names]
    snapshot[30] = ("task_30", {"Running": 1})
    snapshot[40] = ("task_40", {"Failed": 1})
    clock.now += 1
    display.update(snapshot)
    lines = display.render_table()
    assert len(lines) <= 10
    assert all(len(line) < 40 for line in lines)
    shown = [line.split()[0] for line in lines[2:-1]]
    assert "task_30" in shown and "task_40" in shown  # running and failed rows kept
    assert shown == sorted(shown, key=lambda n: int(n.split("_")[1]))  # topological order
    assert lines[-1].startswith("... ") and "more tasks" in lines[-1]
    shown = screen(stream.getvalue())  # what rich drew: as many lines, none wider
    assert len(shown) == len(lines) and all(len(line) <= 40 for line in shown)
    assert [line.split()[0] for line in shown[2:-1]] == [line.split()[0] for line in lines[2:-1]]


def test_tty_finish_erases_the_table_and_prints_the_summary():
    display, stream, summary, clock = make("tty")
    display.start("etl", ["extract", "transform", "load"])
    clock.now += 1
    display.update(SNAPSHOT_2)
    assert len(screen(stream.getvalue())) == 5
    display.finish(Failed("Some reference tasks failed.", {}))
    assert screen(stream.getvalue()) == []  # erased
    assert summary.getvalue().startswith("Flow 'etl': Failed - Some reference tasks failed.\n")
    assert "\x1b" not in summary.getvalue()  # the summary's stream is no terminal: plain text


def test_summary_on_a_terminal_is_the_plain_one_in_colour(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setenv("COLUMNS", "200")  # wide enough for every cell
    terminal = TTYStream()
    display = ProgressDisplay(io.StringIO(), terminal, mode="lines", clock=Clock())
    display.start("etl", [])
    display.finish(failing_run())
    text = terminal.getvalue()
    assert "\x1b[1;31mFailed" in text  # a failed state in bold red
    assert [line.rstrip() for line in strip_styles(text).splitlines()] == \
        render_summary("etl", failing_run(), elapsed=0.0).splitlines()
    monkeypatch.setenv("NO_COLOR", "1")
    plain = TTYStream()
    display = ProgressDisplay(io.StringIO(), plain, mode="lines", clock=Clock())
    display.start("etl", [])
    display.finish(failing_run())
    assert "\x1b" not in plain.getvalue()


def test_summary_on_a_narrow_terminal_cuts_the_details_first(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setenv("COLUMNS", "40")
    terminal = TTYStream()
    display = ProgressDisplay(io.StringIO(), terminal, mode="lines", clock=Clock())
    display.start("etl", [])
    display.finish(failing_run())
    lines = strip_styles(terminal.getvalue()).splitlines()
    table = lines[lines.index("") + 1:]
    assert all(len(line.rstrip()) <= 40 for line in table)
    assert table[3].startswith("load       TriggerFailed  Trigger")  # name and state whole


def test_lines_mode_prints_at_most_every_two_seconds():
    display, stream, _, clock = make("lines")
    display.start("etl", ["extract", "transform", "load"])
    assert stream.getvalue() == "Running flow 'etl' (3 tasks)\n"
    for _ in range(19):  # ten updates per second for 1.9 s: nothing printed
        clock.now += 0.1
        display.update(SNAPSHOT_1)
    assert stream.getvalue().count("\n") == 1
    clock.now += 0.1
    display.update(SNAPSHOT_1)
    lines = stream.getvalue().splitlines()
    assert lines[1] == ("[  2.00s] etl: 97/1,002 task runs done "
                        "(Pending 901, Running 4, Success 97), 48.5 runs/s")
    assert "\x1b" not in stream.getvalue()


def test_lines_mode_output_stays_small_for_long_runs():
    display, stream, _, clock = make("lines")
    display.start("etl", ["a"])
    for i in range(600):  # one minute of updates at 10 per second
        clock.now += 0.1
        display.update([("a", {"Success": i})])
    assert len(stream.getvalue().splitlines()) <= 32


def test_off_mode_prints_only_the_summary():
    display, stream, summary, clock = make("off")
    display.start("etl", ["a"])
    display.update([("a", {"Success": 1})])
    display.finish(Success("All reference tasks succeeded.", {}))
    assert stream.getvalue() == ""
    assert summary.getvalue().startswith("Flow 'etl': Success")


# -- summary ---------------------------------------------------------------------------


def failing_run():
    extract, transform, load, report, skipped = (FakeTask(n) for n in
                                                 ["extract", "transform", "load", "report", "skip_me"])
    children = [Success(result=i) for i in range(3)] + [
        Failed("Error during execution of task", ValueError("bad row 3\nmore detail")),
        Success(result=4),
    ]
    results = {
        extract: Success(result=[1, 2, 3]),
        transform: Mapped("Mapped", map_states=children),
        load: TriggerFailed('Trigger was "all_successful" but some of the upstream tasks failed.'),
        report: Failed("Error during execution of task", KeyError("missing")),
        skipped: Skipped("Skipped on purpose"),
    }
    return Failed("Some reference tasks failed.", results)


def test_summary_table():
    text = render_summary("etl", failing_run(), elapsed=None)
    assert text.splitlines() == [
        "Flow 'etl': Failed - Some reference tasks failed.",
        "",
        "TASK       STATE          DETAILS",
        "extract    Success",
        "transform  Mapped         5 children: Success 4, Failed 1; "
        "first failure [3]: ValueError: bad row 3",
        'load       TriggerFailed  Trigger was "all_successful" but some of the upstream tasks failed.',
        "report     Failed         KeyError: 'missing'",
        "skip_me    Skipped        Skipped on purpose",
    ]


def test_summary_uses_the_last_snapshot_for_child_counts():
    state = failing_run()
    snapshot = [("extract", {"Success": 1}),
                ("transform", {"Success": 999_999, "Failed": 1, "Mapped": 1})]
    text = render_summary("etl", state, snapshot, elapsed=4.0)
    lines = text.splitlines()
    assert lines[1] == "1,000,002 task runs in 4.00s (250,000 runs/s)"
    assert ("transform  Mapped         1,000,000 children: Success 999,999, Failed 1; "
            "first failure [3]: ValueError: bad row 3") in lines


def test_summary_of_a_successful_run():
    a = FakeTask("a")
    text = render_summary("ok", Success("All reference tasks succeeded.", {a: Success(result=1)}),
                          [("a", {"Success": 1})], elapsed=0.5)
    assert text == ("Flow 'ok': Success - All reference tasks succeeded.\n"
                    "1 task runs in 0.50s (2.0 runs/s)\n"
                    "\n"
                    "TASK  STATE    DETAILS\n"
                    "a     Success\n")


def test_summary_of_a_cancelled_run():
    a, b = FakeTask("a"), FakeTask("b")
    state = Cancelled("Cancelled by Ctrl-C", {a: Success(result=1), b: Cancelled("Cancelled by Ctrl-C")})
    lines = render_summary("slow", state).splitlines()
    assert lines[0] == "Flow 'slow': Cancelled - Cancelled by Ctrl-C"
    assert lines[-1] == "b     Cancelled  Cancelled by Ctrl-C"


def test_summary_when_the_engine_failed_before_tasks():
    error = RuntimeError("executor went away")
    state = Failed("Unexpected error while running flow: RuntimeError('executor went away')", error)
    text = render_summary("etl", state)
    assert text.splitlines() == [
        "Flow 'etl': Failed - Unexpected error while running flow: RuntimeError('executor went away')",
        "error: RuntimeError: executor went away",
    ]


def test_summary_accepts_any_mapping_of_task_states():
    from collections.abc import Mapping

    class LazyStates(Mapping):
        def __init__(self, data):
            self._data = data

        def __getitem__(self, key):
            return self._data[key]

        def __iter__(self):
            return iter(self._data)

        def __len__(self):
            return len(self._data)

    a = FakeTask("a")
    text = render_summary("lazy", Success("ok", LazyStates({a: Success()})))
    assert text.splitlines()[-1] == "a     Success"


def test_first_error_line():
    assert first_error_line(Failed("msg", ValueError("one\ntwo"))) == "ValueError: one"
    assert first_error_line(Failed("the message\nmore")) == "the message"
    assert first_error_line(Failed(None, ValueError())) == "ValueError"
    assert first_error_line(Failed()) == "Failed"
