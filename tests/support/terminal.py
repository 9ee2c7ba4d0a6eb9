"""What a terminal shows after some output: enough of a terminal emulator for the
escape codes the CLI's live display writes (rich's ``Live``): carriage return, cursor
up, erase line, erase to the end of the screen; colours and styles are dropped."""

from __future__ import annotations

import re

__all__ = ["screen", "strip_styles"]

_CODE = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])")


def strip_styles(text: str) -> str:
    """``text`` without its SGR (colour and style) codes."""
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def screen(text: str) -> list[str]:
    """The lines on the screen after ``text`` is written to an empty terminal (as wide
    as its longest line), trailing spaces dropped, trailing empty lines dropped."""
    lines = [""]
    row = col = 0

    def put(chars: str) -> None:
        nonlocal col
        line = lines[row]
        line = line.ljust(col)
        lines[row] = line[:col] + chars + line[col + len(chars):]
        col += len(chars)

    pos = 0
    for match in _CODE.finditer(text + "\x1b[0m"):
        chunk = text[pos:match.start()]
        pos = match.end()
        for piece in re.split(r"([\r\n])", chunk):
            if piece == "\r":
                col = 0
            elif piece == "\n":
                row += 1
                col = 0
                if row == len(lines):
                    lines.append("")
            elif piece:
                put(piece)
        args, kind = match.group(1), match.group(2)
        if kind == "A":
            row = max(0, row - int(args or 1))
        elif kind == "K":  # erase in line (2: all of it; 0: to its end)
            lines[row] = "" if args == "2" else lines[row][:col]
        elif kind == "J":  # erase to the end of the screen
            lines[row] = lines[row][:col]
            del lines[row + 1:]
        elif kind in "mhl":
            pass  # styles, cursor shown or hidden
        else:
            raise AssertionError(f"an escape code this screen does not know: {match.group(0)!r}")
    out = [line.rstrip() for line in lines]
    while out and not out[-1]:
        out.pop()
    return out
