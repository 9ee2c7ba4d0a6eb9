"""ferroflow.cli.formatting: the one table renderer and duration format of the CLI."""

import io

from ferroflow.cli.formatting import format_duration, format_table, print_table, shorten
from ferroflow.cli.terminal import STYLED_ROWS_MAX, make_console, terminal_for
from tests.support.terminal import strip_styles


def test_format_table_aligns_left_or_right_and_drops_trailing_spaces():
    rows = [["task", "total", "done", "Failed"], ["extract", "1", "1", ""], ["transform", "1,000", "96", "4"]]
    assert format_table(rows) == ["task       total  done  Failed",
                                  "extract    1      1",
                                  "transform  1,000  96    4"]
    assert format_table(rows, right_from=1) == ["task       total  done  Failed",
                                                "extract        1     1",
                                                "transform  1,000    96       4"]
    assert format_table([["name"], ["a" * 12]], max_first=8) == ["name", "aaaaa..."]
    assert format_table([]) == []


def test_shorten():
    assert shorten("abcdef", 6) == "abcdef"
    assert shorten("abcdefg", 6) == "abc..."


def test_a_duration_is_never_negative():
    assert format_duration(-0.2) == "0.00s"


# -- on a terminal: the same table drawn by rich ----------------------------------------

ROWS = [["RUN ID", "FLOW", "STATE", "DURATION"], ["3f2a", "etl [bold]x[/]", "Failed", "2m03s"],
        ["77c1", "report", "Success", "0.31s"]]


class TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_the_plain_layout_with_styles():
    console = make_console(io.StringIO(), size=(100, 30))
    for right_from in (None, 3):
        lines = format_table(ROWS, right_from=right_from, console=console, state_column=2)
        assert [strip_styles(line).rstrip() for line in lines] == format_table(ROWS, right_from=right_from)
        assert lines[0].startswith("\x1b[1m")  # bold header
        assert "\x1b[1;31mFailed" in lines[1] and "\x1b[32mSuccess" in lines[2]
        assert "[bold]x[/]" in lines[1]  # text is never read as rich markup


def test_print_table_is_plain_unless_the_stream_is_a_terminal_without_no_color(monkeypatch):
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.delenv("NO_COLOR", raising=False)
    piped = io.StringIO()
    print_table(ROWS, state_column=2, file=piped)
    assert piped.getvalue() == "".join(line + "\n" for line in format_table(ROWS))
    terminal = TTY()
    print_table(ROWS, state_column=2, file=terminal)
    assert "\x1b[" in terminal.getvalue()
    monkeypatch.setenv("NO_COLOR", "1")
    assert terminal_for(TTY()) is None
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("TERM", "dumb")
    assert terminal_for(TTY()) is None


def test_a_long_table_is_plain_even_on_a_terminal():
    console = make_console(io.StringIO(), size=(100, 30))
    rows = [["N", "STATE"]] + [[str(i), "Success"] for i in range(STYLED_ROWS_MAX + 1)]
    assert format_table(rows, console=console, state_column=1) == format_table(rows)
    assert "\x1b" in "".join(format_table(rows[:-1], console=console, state_column=1))
