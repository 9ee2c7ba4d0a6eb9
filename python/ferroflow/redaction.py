"""Secret values scrubbed from everything ferroflow writes or sends.

A process-wide registry of secret values (:func:`register`): the secrets a flow read
(``ferroflow.secrets.get``, the ``Secret`` task) are registered in the process that
read them, and :func:`scrub` replaces each of them with ``********`` in a text. Where a
record leaves the process (the run store, log handlers, notifiers, the command line's
output, a worker's answer) ferroflow scrubs it; ``docs/secrets.md`` lists the places.

Besides the value itself, its escaped forms are recognized: the inside of its
``repr()`` (a value with a quote, a backslash, a newline or a non-printable character
is escaped there, as in ``Error during execution of task: ValueError('...')``) and of
its JSON string (non-ASCII characters as ``\\uXXXX``, as in recorded parameters),
escaped once or twice (``ValueError("bad token 'x'")`` holds the repr of a repr). A
value transformed by code (base64 of it, a slice, its letters upper-cased) cannot be
recognized.

Values shorter than :data:`MIN_LENGTH` (4) characters are refused: scrubbing ``"ab"``
would mangle ordinary text everywhere.

Nothing is registered in most processes, and then every function here costs one
check of a module global (``scrub`` returns its argument as it is).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
from collections.abc import Iterable, Iterator
from typing import Any, overload

__all__ = ["MASK", "MIN_LENGTH", "register", "register_all", "registered", "active", "scrub", "scrub_nested",
           "contains", "clear", "RedactingFilter", "FILTER", "scrub_record", "ScrubbingStream", "scrubbed_output",
           "without_password"]

#: What a secret value is replaced with.
MASK = "********"
#: The shortest value that can be registered (and set as a secret).
MIN_LENGTH = 4

#: Every registered value, in the order registered (a dict used as an ordered set).
_values: dict[str, None] = {}
#: One pattern matching every form of every value (longest first); None: nothing
#: registered (the fast path every function starts with).
_pattern: re.Pattern[str] | None = None
#: The UTF-8 bytes of every form, for :func:`contains`.
_encoded: tuple[bytes, ...] = ()
#: The values as a tuple (what :func:`registered` answers), None: none.
_registered: tuple[str, ...] | None = None
_lock = threading.Lock()


_URL_PASSWORD = re.compile(r"(://[^/@:\s]*):[^/\s]*@")


def without_password(text: str) -> str:
    """``text`` with the password of every URL's user part (``scheme://user:password@``)
    replaced by ``***``: URLs (a result store's, an executor's scheduler) may carry
    credentials, and errors, logs, reprs and run records quote them."""
    return _URL_PASSWORD.sub(r"\1:***@", text)


def _repr_inside(value: str, quote: str) -> str:
    """``value`` as it is written inside the ``repr()`` of a string delimited by
    ``quote`` (Python escapes character by character; which quote a string gets
    depends on the whole string, so both are made)."""
    return "".join("\\'" if char == "'" and quote == "'" else repr(char)[1:-1] for char in value)


_ESCAPES = (
    lambda value: _repr_inside(value, "'"),
    lambda value: _repr_inside(value, '"'),
    lambda value: json.dumps(value)[1:-1],
    lambda value: json.dumps(value, ensure_ascii=False)[1:-1],
)


def _forms(value: str) -> set[str]:
    """``value`` and its escaped forms inside ``repr()`` and JSON strings, escaped once
    or twice (the repr of an exception whose message holds the repr of a value; a
    JSON record of such a message)."""
    once = {escape(value) for escape in _ESCAPES}
    twice = {escape(form) for form in once for escape in _ESCAPES}
    return {value} | once | twice


def register(value: str) -> None:
    """Scrub ``value`` (a secret) from everything this process writes from now on.

    Raises:
        TypeError: ``value`` is not a ``str``.
        ValueError: it is shorter than :data:`MIN_LENGTH` characters.
    """
    register_all((value,))


def register_all(values: Iterable[str]) -> None:
    """:func:`register` each of ``values`` (one rebuild of the pattern for all)."""
    global _pattern, _encoded, _registered
    new = []
    for value in values:
        if not isinstance(value, str):
            raise TypeError(f"a secret value to scrub must be a str, not {type(value).__name__}")
        if len(value) < MIN_LENGTH:
            raise ValueError(f"a secret value must be at least {MIN_LENGTH} characters long (a shorter one "
                             f"would be scrubbed from ordinary text everywhere); this one has {len(value)}")
        if not value.strip("*"):
            raise ValueError(f"a secret value cannot be made of asterisks only: it would be the {MASK!r} "
                             "that replaces secrets")
        if value not in _values:
            new.append(value)
    if not new:
        return
    with _lock:
        for value in new:
            _values[value] = None
        forms: set[str] = set()
        for value in _values:
            forms |= _forms(value)
        ordered = sorted(forms, key=lambda form: (-len(form), form))
        _encoded = tuple(form.encode("utf-8") for form in ordered)
        _registered = tuple(_values)
        _pattern = re.compile("|".join(map(re.escape, ordered)))


def registered() -> tuple[str, ...] | None:
    """The registered values (None when there are none): what travels to a worker
    process with each work unit, and back with its results."""
    return _registered


def active() -> bool:
    """Whether any value is registered."""
    return _pattern is not None


@overload
def scrub(text: str) -> str: ...
@overload
def scrub(text: None) -> None: ...
def scrub(text: str | None) -> str | None:
    """``text`` with every registered value (and its escaped forms) replaced by
    :data:`MASK`; ``text`` itself when nothing is registered (or it is None)."""
    pattern = _pattern
    if pattern is None or text is None:
        return text
    return pattern.sub(MASK, text)


def scrub_nested(value: Any) -> Any:
    """``value`` with :func:`scrub` applied to every ``str`` in it, through tuples,
    lists and dict values (keys stay): for records on their way to a store, whatever
    their shape. Other values (numbers, bytes, ranges, lists of numbers) are returned
    as they are, and so is everything when nothing is registered."""
    if _pattern is None:
        return value
    return _nested(value)


_NUMBERS = (int, float, bool)


def _nested(value: Any) -> Any:
    kind = type(value)
    if kind is str:
        return scrub(value)
    if kind is tuple:
        return tuple(_nested(item) for item in value)
    if kind is list:
        if not value or (type(value[0]) in _NUMBERS and all(type(item) in _NUMBERS for item in value)):
            return value  # indices: nothing to scrub (and maybe a million of them), no copy
        return [_nested(item) for item in value]
    if kind is dict:
        return {key: _nested(item) for key, item in value.items()}
    if isinstance(value, str):  # a str subclass
        return scrub(str(value))
    return value


def contains(data: str | bytes) -> bool:
    """Whether ``data`` (text, or bytes such as a pickle: its strings are UTF-8 there)
    holds a registered value or one of its escaped forms."""
    if _pattern is None:
        return False
    if isinstance(data, str):
        return _pattern.search(data) is not None
    return any(form in data for form in _encoded)


def clear() -> None:
    """Forget every registered value (for tests; a process that read a secret keeps
    scrubbing it otherwise)."""
    global _pattern, _encoded, _registered
    with _lock:
        _values.clear()
        _pattern = None
        _encoded = ()
        _registered = None


# ----- logging ------------------------------------------------------------------------


def scrub_record(record: logging.LogRecord) -> None:
    """Scrub ``record`` in place: its message (formatted with its arguments when it
    holds a secret), its exception text, stack and every other ``str`` attribute
    (``extra`` values). Nothing is done when nothing is registered."""
    if _pattern is None:
        return
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: logging reports it later, scrubbed
        message = str(record.msg)
    clean = scrub(message)
    if clean != message:
        record.msg, record.args = clean, None
    if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
        text = logging.Formatter().formatException(record.exc_info)
        clean = scrub(text)
        if clean != text:
            record.exc_text = clean
    for name, value in list(vars(record).items()):
        if name != "msg" and type(value) is str:
            clean = scrub(value)
            if clean != value:
                setattr(record, name, clean)


class RedactingFilter(logging.Filter):
    """A :class:`logging.Filter` that scrubs each record (:func:`scrub_record`) and
    lets it through. ferroflow puts one (:data:`FILTER`) on its task loggers and its own
    handlers; add it to a handler of yours that records what other loggers log in a
    task: ``handler.addFilter(ferroflow.redaction.FILTER)``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _pattern is not None:
            scrub_record(record)
        return True


#: The filter ferroflow adds to its loggers and handlers.
FILTER = RedactingFilter()


# ----- streams ------------------------------------------------------------------------


class ScrubbingStream:
    """A text stream that writes to ``target`` what it is given, scrubbed: what
    ``ferroflow run`` and a ``processes`` worker put in place of ``sys.stdout`` and
    ``sys.stderr``. A secret split over two ``write`` calls is not recognized (``print``
    writes each of its arguments whole)."""

    def __init__(self, target: Any) -> None:
        self.target = target

    def write(self, text: str) -> int:
        self.target.write(scrub(text) if _pattern is not None else text)
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self.target.flush()

    def __getattr__(self, name: str) -> Any:  # encoding, isatty, fileno, buffer...
        return getattr(self.target, name)


@contextlib.contextmanager
def scrubbed_output() -> Iterator[None]:
    """Within the block, ``sys.stdout`` and ``sys.stderr`` write through a
    :class:`ScrubbingStream` (for ``ferroflow run``: a task's prints, the errors the
    command shows). Each is put back afterwards if nobody replaced it meanwhile."""
    import sys

    streams = {}
    for name in ("stdout", "stderr"):
        current = getattr(sys, name)
        if current is not None and not isinstance(current, ScrubbingStream):
            streams[name] = (current, ScrubbingStream(current))
            setattr(sys, name, streams[name][1])
    try:
        yield
    finally:
        for name, (original, wrapper) in streams.items():
            if getattr(sys, name) is wrapper:
                setattr(sys, name, original)
