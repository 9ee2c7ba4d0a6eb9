"""How the ``ferroflow`` command writes durations, tables and shortened text.

One format for each, used by every command: ``ferroflow run``'s progress and summary,
``ferroflow runs``, ``runs show`` and ``ferroflow plugins``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["format_duration", "format_table", "shorten"]


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
                 max_first: int | None = None) -> list[str]:
    """The lines of a table (no line ends): columns two spaces apart, each as wide as
    its widest cell, trailing spaces dropped.

    Args:
        rows: The rows, the header first; every row has as many cells.
        right_from: Cells of this column and the following ones are right-aligned
            (numbers); None aligns every cell left.
        max_first: Cells of the first column longer than this are shortened (see
            :func:`shorten`).
    """
    if not rows:
        return []
    if max_first is not None:
        rows = [[shorten(row[0], max_first), *row[1:]] for row in rows]
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [cell.rjust(widths[c]) if right_from is not None and c >= right_from else cell.ljust(widths[c])
                 for c, cell in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
    return lines


def shorten(text: Any, width: int) -> str:
    """``text`` as it is when it has at most ``width`` characters, else cut to
    ``width`` characters ending with ``...``."""
    text = str(text)
    return text if len(text) <= width else text[: width - 3] + "..."
