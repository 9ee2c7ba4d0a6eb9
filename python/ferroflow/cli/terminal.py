"""Output for a person at a terminal, drawn with ``rich``.

The CLI writes two kinds of output from the same rows of cells:

* for a terminal (the stream is a TTY, ``NO_COLOR`` is not set, ``TERM`` is not
  ``dumb``): tables drawn by ``rich.table.Table``, header in bold, states in colour,
  cut to the terminal's width with ``…`` rather than wrapped;
* everywhere else (pipes, files, scripts, tests, ``NO_COLOR``):
  :func:`ferroflow.cli.formatting.format_table`'s plain text, no escape codes, columns
  as wide as their widest cell, which scripts may parse.

Both have the same layout: columns two spaces apart, no borders, numbers aligned right;
on a terminal wide enough, the styled table is the plain one with colours.

``rich`` is imported only when something is drawn for a terminal, so that piped output
and ``--no-progress`` runs do not pay for loading it (about 20 ms).
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

__all__ = ["STATE_STYLES", "STYLED_ROWS_MAX", "is_terminal", "make_console", "styled_table", "table_lines",
           "terminal_for"]

#: The colour of each state's name, on a terminal (states not named here are plain).
STATE_STYLES: dict[str, str] = {
    "Success": "green",
    "Cached": "green",
    "Mapped": "green",
    "Running": "cyan",
    "Retrying": "yellow",
    "Paused": "yellow",
    "Cancelling": "yellow",
    "Cancelled": "magenta",
    "Skipped": "dim",
    "Failed": "bold red",
    "TriggerFailed": "red",
    "TimedOut": "red",
    "Crashed": "bold red",
    "Unknown": "red",
    "failed": "bold red",  # plugin and worker statuses
    "loaded": "green",
}

#: Tables with more rows than this are written as plain text even on a terminal: rich
#: takes about 0.25 ms per row of five cells (50 ms for 200 runs, 250 ms for 1,000; see
#: docs/architecture.md), the plain renderer about 1 us.
STYLED_ROWS_MAX = 200


def is_terminal(stream: Any) -> bool:
    """Whether ``stream`` is a terminal that understands escape codes (``TERM`` is not
    ``dumb`` or ``unknown``, which rich would not draw on)."""
    try:
        return bool(stream.isatty()) and os.environ.get("TERM", "").lower() not in {"dumb", "unknown"}
    except (AttributeError, ValueError, io.UnsupportedOperation):
        return False


def _no_color() -> bool:
    # https://no-color.org: set and not empty.
    return bool(os.environ.get("NO_COLOR"))


def make_console(stream: TextIO, *, size: tuple[int, int] | None = None) -> Console:
    """A rich console writing to ``stream`` as to a terminal (colours unless
    ``NO_COLOR``), that never reads markup or emoji codes in the text it is given and
    never hides the cursor (a second Ctrl-C ends the process at once, which would leave
    it hidden)."""
    from rich.console import Console

    class _Console(Console):
        def show_cursor(self, show: bool = True) -> bool:
            return False

    width, height = size if size is not None else (None, None)
    return _Console(file=stream, force_terminal=True, no_color=_no_color(), markup=False, emoji=False,
                    highlight=False, width=width, height=height)


def terminal_for(stream: TextIO) -> Console | None:
    """A console for styled tables on ``stream``, or None when ``stream`` gets plain
    text (not a terminal, or ``NO_COLOR`` set)."""
    if not is_terminal(stream) or _no_color():
        return None
    return make_console(stream)


def styled_table(rows: Sequence[Sequence[str]], *, right_from: int | None = None,
                 state_column: int | None = None) -> Table:
    """``rows`` (header first) as a borderless ``rich`` table in the plain table's
    layout: bold header, cells of ``state_column`` coloured by :data:`STATE_STYLES`,
    one line per row (on a narrow terminal the last column's cells, then the first's,
    are cut with ``…``)."""
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, padding=(0, 1), pad_edge=False, show_edge=False, header_style="bold",
                  highlight=False)
    for c, title in enumerate(rows[0]):
        right = right_from is not None and c >= right_from
        # On a narrow terminal the last column (free text: messages, details) gives way,
        # then the first (names) down to 20 characters; then lines are cut at its edge.
        widest: int | None = max(len(row[c]) for row in rows)
        if c == len(rows[0]) - 1 and c:
            widest = None
        elif c == 0 and not right:
            widest = min(widest or 0, 20)
        table.add_column(Text(title), justify="right" if right else "left", no_wrap=True, overflow="ellipsis",
                         min_width=widest)
    for row in rows[1:]:
        table.add_row(*(Text(cell, style=STATE_STYLES.get(cell, "") if c == state_column else "")
                        for c, cell in enumerate(row)))
    return table


def table_lines(console: Console, rows: Sequence[Sequence[str]], *, right_from: int | None = None,
                state_column: int | None = None) -> list[str]:
    """The lines (with escape codes, no line ends) of :func:`styled_table` drawn for
    ``console``'s width."""
    with console.capture() as capture:
        console.print(styled_table(rows, right_from=right_from, state_column=state_column))
    return [line.rstrip() for line in capture.get().splitlines()]
