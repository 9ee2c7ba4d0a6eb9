"""How the ``ferroflow`` command writes durations, tables and shortened text.

One format for each, used by every command (``ferroflow run``'s progress and summary,
``ferroflow runs``, ``runs show``, ``plugins``, ``workers``, ``pool ls``,
``deployments``, ...) and, for durations, by the web UI. A table is plain text, or
drawn by ``rich`` with the same layout on a terminal (:mod:`ferroflow.cli.terminal`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["format_duration", "format_table", "print_table", "shorten"]


def format_duration(seconds: float | None) -> str:
    """A duration as the CLI writes it: ``0.31s``, ``12.3s``, ``2m03s``, ``1h02m05s``;
    ``-`` for None.

    Hundredths below ten seconds, tenths below a minute, then whole seconds (rounded)
    in minutes and hours: the seconds are kept past an hour too, so a clock that goes
    on counting (the live progress) moves with every update, and a run's duration is
    told to the second."""
    if seconds is None:
        return "-"
    seconds = max(0.0, float(seconds))
    # The thresholds are the values that round up to the next unit's first value.
    if seconds < 9.995:
        return f"{seconds:.2f}s"
    if seconds < 59.95:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s"


def format_table(rows: Sequence[Sequence[str]], *, right_from: int | None = None,
                 max_first: int | None = None, console: Console | None = None,
                 state_column: int | None = None) -> list[str]:
    """The lines of a table (no line ends): columns two spaces apart, each as wide as
    its widest cell, trailing spaces dropped.

    Args:
        rows: The rows, the header first; every row has as many cells.
        right_from: Cells of this column and the following ones are right-aligned
            (numbers); None aligns every cell left.
        max_first: Cells of the first column longer than this are shortened (see
            :func:`shorten`).
        console: A terminal's console (:func:`ferroflow.cli.terminal.terminal_for`):
            the same table drawn by ``rich``, with escape codes (bold header, coloured
            states), cut to the terminal's width; None (pipes, files) or a table of
            more than :data:`~ferroflow.cli.terminal.STYLED_ROWS_MAX` rows: plain text.
        state_column: On a terminal, the cells of this column are coloured as states.
    """
    if not rows:
        return []
    if max_first is not None:
        rows = [[shorten(row[0], max_first), *row[1:]] for row in rows]
    if console is not None:
        from ferroflow.cli.terminal import STYLED_ROWS_MAX, table_lines

        if len(rows) - 1 <= STYLED_ROWS_MAX:
            return table_lines(console, rows, right_from=right_from, state_column=state_column)
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [cell.rjust(widths[c]) if right_from is not None and c >= right_from else cell.ljust(widths[c])
                 for c, cell in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
    return lines


def print_table(rows: Sequence[Sequence[str]], *, right_from: int | None = None,
                state_column: int | None = None, file: TextIO | None = None) -> None:
    """Write :func:`format_table`'s lines to ``file`` (default ``sys.stdout``): drawn
    by ``rich`` on a terminal, plain text elsewhere."""
    from ferroflow.cli.terminal import terminal_for

    stream = sys.stdout if file is None else file
    console = terminal_for(stream)
    stream.write("".join(line + "\n" for line in format_table(rows, right_from=right_from, console=console,
                                                              state_column=state_column)))


def shorten(text: Any, width: int) -> str:
    """``text`` as it is when it has at most ``width`` characters, else cut to
    ``width`` characters ending with ``...``."""
    text = str(text)
    return text if len(text) <= width else text[: width - 3] + "..."
