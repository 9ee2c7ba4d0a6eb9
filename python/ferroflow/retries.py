"""Retry delays beyond one fixed wait.

A task's ``retry_delay`` may be

* one delay (a ``datetime.timedelta`` or seconds), waited before every retry;
* a list or tuple of delays, one per retry: the retry after attempt ``k`` waits
  element ``k - 1`` and the last element repeats when ``max_retries`` is larger.
  Without ``max_retries``, the task retries once per element;
* :func:`exponential_backoff`: ``base * factor ** (k - 1)`` seconds after attempt
  ``k``, capped at ``max_delay``, each wait shortened by a random share of up to
  ``jitter``. It needs ``max_retries``.

The Rust core owns the waits: it receives one delay per retry (in milliseconds) and
the jitter, and draws each retry's random share from a seeded hash of (seed, task,
map index, attempt), so a flow run with a given seed always waits the same.
See ``docs/retries.md``.
"""

from __future__ import annotations

import datetime
import logging
import math
import numbers
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["ExponentialBackoff", "JitteredDelays", "exponential_backoff", "with_jitter_factor"]

Delay = datetime.timedelta | int | float

#: The longest wait ferroflow schedules (``datetime.timedelta.max``), in seconds.
MAX_DELAY_SECONDS = datetime.timedelta.max.total_seconds()
#: ferroflow keeps retry counters in one byte (as ``max_retries``).
MAX_RETRIES = 255
_SEED_MASK = (1 << 64) - 1


@dataclass(frozen=True)
class ExponentialBackoff:
    """Retry waits of ``base * factor ** (k - 1)`` seconds after attempt ``k``, at most
    ``max_delay`` seconds, each shortened by a random share of up to ``jitter`` (0 to
    1): the wait after attempt ``k`` lies in ``[d * (1 - jitter), d]``. Usually built
    with :func:`exponential_backoff`.

    ``seed`` fixes the random shares for every run of the flow (reproducible waits, at
    the price of runs in several processes retrying in step); by default each flow run
    draws its own.
    """

    base: float = 1.0
    factor: float = 2.0
    max_delay: float | None = None
    jitter: float = 0.0
    seed: int | None = None

    def __post_init__(self) -> None:
        where = "exponential_backoff"
        set_ = object.__setattr__
        set_(self, "base", _seconds(self.base, "base"))
        if self.max_delay is not None:
            set_(self, "max_delay", _seconds(self.max_delay, "max_delay"))
        if not _is_real(self.factor) or not math.isfinite(self.factor) or self.factor < 1:
            raise ValueError(f"{where}: factor must be a number of at least 1, got {self.factor!r}")
        set_(self, "factor", float(self.factor))
        set_(self, "jitter", _jitter(self.jitter, where))
        set_(self, "seed", _seed(self.seed))

    def delay(self, attempt: int) -> float:
        """Seconds before the retry after attempt ``attempt`` (from 1), before jitter."""
        if attempt < 1:
            raise ValueError(f"attempts count from 1, got {attempt}")
        cap = MAX_DELAY_SECONDS if self.max_delay is None else self.max_delay
        if self.base == 0:
            return 0.0
        try:
            seconds = self.base * self.factor ** (attempt - 1)
        except OverflowError:
            seconds = math.inf
        return min(seconds, cap)

    def delays(self, retries: int) -> list:
        """Seconds before each of ``retries`` retries, before jitter."""
        return [self.delay(k) for k in range(1, retries + 1)]


def exponential_backoff(
    base: Delay = 1.0,
    factor: float = 2.0,
    max_delay: Delay | None = None,
    jitter: float = 0.0,
    seed: int | None = None,
) -> ExponentialBackoff:
    """A ``retry_delay`` that grows: ``base``, ``base * factor``, ``base * factor**2``...
    seconds (``base`` and ``max_delay`` as seconds or ``datetime.timedelta``), capped
    at ``max_delay``. ``jitter`` (0 to 1) takes a random share of up to that fraction
    off each wait (1: anywhere between 0 and the delay; 0.5: between half of it and
    all of it). ``seed`` (an int) makes the random shares the same in every run.

    >>> exponential_backoff(base=0.5, factor=3, max_delay=10).delays(5)
    [0.5, 1.5, 4.5, 10.0, 10.0]
    """
    # As seconds here: the class keeps plain floats (and checks them again, unchanged).
    return ExponentialBackoff(_seconds(base, "base"), factor,
                              None if max_delay is None else _seconds(max_delay, "max_delay"), jitter, seed)


# ----- normalising task options --------------------------------------------------------


@dataclass(frozen=True)
class JitteredDelays:
    """Per-retry waits (a tuple of timedeltas, the last repeated) each shortened by a
    random share of up to ``jitter`` (0 to 1), as :class:`ExponentialBackoff`'s are:
    what :func:`with_jitter_factor` makes of Prefect 3's ``retry_jitter_factor``."""

    delays: tuple
    jitter: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "jitter", _jitter(self.jitter, "retry_jitter_factor"))


def with_jitter_factor(retry_delay: Any, factor: Any, culprit: str) -> Any:
    """``retry_delay`` (normalised) with Prefect 3's ``retry_jitter_factor``: each wait
    ``d`` becomes a random wait of at most ``d * (1 + factor)`` whose mean is about
    ``d`` (uniform in ``[d * (1 - factor), d * (1 + factor)]``, the lower end at 0 from
    a factor of 1). Prefect 3 draws from a clamped exponential with the same upper
    bound and mean; ferroflow's core draws its jitter uniformly (and reproducibly)."""
    if not _is_real(factor) or not math.isfinite(factor) or factor < 0:
        raise ValueError(f"{culprit}: retry_jitter_factor must be a number >= 0, got {factor!r}")
    if not factor or retry_delay is None:
        return retry_delay
    stretch = 1 + factor
    jitter = min(1.0, 2 * factor / stretch)
    if isinstance(retry_delay, ExponentialBackoff):
        cap = None if retry_delay.max_delay is None else retry_delay.max_delay * stretch
        return ExponentialBackoff(retry_delay.base * stretch, retry_delay.factor, cap, jitter, retry_delay.seed)
    delays = retry_delay if isinstance(retry_delay, tuple) else (retry_delay,)
    return JitteredDelays(tuple(d * stretch for d in delays), jitter)


def check_retry_delay(value: Any, culprit: str) -> Any:
    """Normalise a task's ``retry_delay``: None, a timedelta, a tuple of timedeltas, an
    :class:`ExponentialBackoff` or :class:`JitteredDelays`; errors start with
    ``culprit`` (``"Task 'x'"``)."""
    if value is None or isinstance(value, (ExponentialBackoff, JitteredDelays)):
        return value
    if isinstance(value, (list, tuple)):
        if not value:
            raise ValueError(f"{culprit}: retry_delay is an empty list; give at least one delay")
        if len(value) > MAX_RETRIES:
            raise ValueError(
                f"{culprit}: retry_delay lists {len(value)} delays, but a task retries at "
                f"most {MAX_RETRIES} times"
            )
        return tuple(as_timedelta(v, f"{culprit}: retry_delay[{k}]") for k, v in enumerate(value))
    expected = (
        "a datetime.timedelta (or a number of seconds), a list of them, or "
        "ferroflow.retries.exponential_backoff(...)"
    )
    return as_timedelta(value, f"{culprit}: retry_delay", expected)


def default_max_retries(max_retries: Any, retry_delay: Any) -> Any:
    """``max_retries`` as given, or the number of delays when it is not given and
    ``retry_delay`` lists them."""
    if max_retries is None and isinstance(retry_delay, (list, tuple)) and 0 < len(retry_delay) <= MAX_RETRIES:
        return len(retry_delay)
    return max_retries


def check_retry_condition(value: Any, culprit: str) -> Any:
    if value is not None and not callable(value):
        raise TypeError(
            f"{culprit}: retry_condition must be callable as fn(task, state) -> bool, "
            f"got {value!r}"
        )
    return value


# ----- retry_condition, where outcomes are computed -------------------------------------

_log = logging.getLogger("ferroflow.retries")


class RetryRule(tuple):
    """A task's ``retry_on`` exception types (the tuple itself, so ``isinstance`` takes
    it wherever a ``retry_on`` tuple goes) plus its ``retry_condition``. The executor
    asks :meth:`allows` only for runs the types already let retry."""

    condition: Callable[..., Any]
    task: Any

    def __new__(cls, types: tuple, condition: Callable[..., Any], task: Any) -> RetryRule:
        rule = super().__new__(cls, types)
        rule.condition = condition
        rule.task = task
        return rule

    def __reduce__(self) -> tuple:
        return (RetryRule, (tuple(self), self.condition, self.task))

    def allows(self, code: int, value: Any, detail: Any) -> bool:
        """Whether the condition lets the failed run (``code``, ``value``, ``detail``
        as reported to the core) retry. It is not asked when no retry is left; if it
        raises, a warning names the task and the run is not retried."""
        from ferroflow.runtime.context import current_frame
        from ferroflow.runtime.handlers import state_of

        frame = current_frame()
        run_count = 1
        if frame is not None and frame.run_counts:
            run_count = max(1, frame.run_counts[frame.j])
        task = self.task
        max_retries = getattr(task, "max_retries", None)
        if max_retries is not None and run_count > max_retries:
            return False  # the core would not retry anyway
        state = state_of(code, value, detail, None, run_count)
        try:
            return bool(self.condition(task, state))
        except BaseException as exc:  # a user's condition must not end the run
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            name = getattr(task, "name", task)
            index = frame.map_index if frame is not None else None
            label = f"{name}[{index}]" if index is not None else f"{name}"
            _log.warning(
                "Task %r: retry_condition raised %r; not retrying (the run stays %s)",
                label, exc, type(state).__name__,
            )
            return False


# ----- what the core receives --------------------------------------------------------


def core_delays(retry_delay: Any, max_retries: int) -> tuple:
    """``(delays_ms, jitter, seed)`` for the core: one wait per retry (trailing repeats
    dropped, the core repeats the last), the jitter fraction, and the backoff's own
    seed (None: the run's)."""
    if max_retries <= 0 or retry_delay is None:
        return [], 0.0, None
    if isinstance(retry_delay, ExponentialBackoff):
        seconds = retry_delay.delays(max_retries)
        jitter, seed = retry_delay.jitter, retry_delay.seed
    elif isinstance(retry_delay, JitteredDelays):
        seconds = [d.total_seconds() for d in retry_delay.delays[:max_retries]]
        jitter, seed = retry_delay.jitter, None
    elif isinstance(retry_delay, tuple):
        seconds = [d.total_seconds() for d in retry_delay[:max_retries]]
        jitter, seed = 0.0, None
    else:
        seconds = [retry_delay.total_seconds()]
        jitter, seed = 0.0, None
    delays = [max(0, round(s * 1000)) for s in seconds]
    while len(delays) > 1 and delays[-1] == delays[-2]:
        delays.pop()
    if delays == [0]:
        delays = []
    return delays, jitter, seed


def run_seed(seed: int | None = None) -> int:
    """The seed of a flow run's jitter: ``seed`` (any int, kept to 64 bits) or fresh."""
    if seed is None:
        return int.from_bytes(os.urandom(8), "little")
    return _seed_bits(seed)


# ----- validation helpers ------------------------------------------------------------


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


_A_DELAY = "a datetime.timedelta or a number of seconds"


def as_timedelta(value: Any, what: str, expected: str = _A_DELAY) -> datetime.timedelta:
    """``value`` (a timedelta or a finite number of seconds >= 0) as a timedelta; a
    clear TypeError or ValueError that starts with ``what`` otherwise."""
    if isinstance(value, datetime.timedelta):
        delay = value
    elif _is_real(value):
        if not math.isfinite(value):
            raise ValueError(f"{what} must be a finite number of seconds, got {value!r}")
        try:
            delay = datetime.timedelta(seconds=value)
        except OverflowError:
            raise ValueError(f"{what} is too long: {value!r} seconds") from None
    else:
        raise TypeError(f"{what} must be {expected}, got {value!r}")
    if delay < datetime.timedelta(0):
        raise ValueError(f"{what} must not be negative, got {value!r}")
    return delay


def _seconds(value: Any, name: str) -> float:
    return min(as_timedelta(value, f"exponential_backoff: {name}").total_seconds(), MAX_DELAY_SECONDS)


def _jitter(value: Any, where: str) -> float:
    if not _is_real(value) or not 0 <= value <= 1:
        raise ValueError(f"{where}: jitter must be a fraction between 0 and 1, got {value!r}")
    return float(value)


def _seed(value: Any) -> int | None:
    return None if value is None else _seed_bits(value)


def _seed_bits(value: Any) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"exponential_backoff: seed must be None or an int, got {value!r}")
    return int(value) & _SEED_MASK
