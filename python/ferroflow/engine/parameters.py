"""Checking a run's parameters before anything runs."""

from __future__ import annotations

import difflib
from typing import Any

from ferroflow.errors import ParameterError


def check_parameters(flow: Any, given: dict) -> dict:
    """The parameters a run of ``flow`` uses: the default of every parameter not
    given, then ``given`` (as Prefect 1's ``context.parameters``, so ``{'m': 5, 'n':
    3}`` for ``m=5`` and ``n`` defaulting to 3). Raises :class:`ParameterError` naming
    every unknown name and every required parameter without a value."""
    params = {p.name: p for p in flow.parameters()}
    unknown = sorted(set(given) - set(params))
    if unknown:
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, list(params), n=1)
            hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        valid = ", ".join(repr(n) for n in sorted(params)) or "none"
        raise ParameterError(
            f"Flow {flow.name!r} got unknown parameter(s) {', '.join(hints)}; its parameters are: {valid}"
        )
    missing = sorted(n for n, p in params.items() if p.required and n not in given)
    if missing:
        raise ParameterError(
            f"Flow {flow.name!r} is missing required parameter(s): {', '.join(repr(n) for n in missing)}"
        )
    used = {name: p.default for name, p in params.items() if not p.required}
    used.update(given)
    return used
