"""Checking a run's parameters before anything runs."""

from __future__ import annotations

import difflib
from typing import Any

from ferroflow.errors import ParameterError


def check_parameters(flow: Any, given: dict) -> dict:
    """Return ``given`` if every name is a parameter of ``flow`` and every required
    parameter has a value; otherwise raise :class:`ParameterError` naming them."""
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
    return dict(given)
