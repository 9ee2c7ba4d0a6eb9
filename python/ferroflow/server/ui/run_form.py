"""The Run form of a deployment's page: one field per parameter, built from the
deployment's ``parameter_schema`` (what ``ferroflow deploy`` found in the flow:
name -> ``{"default", "required", "type"}``) and its own ``parameters`` (which override
the flow's defaults), and the values a submitted form holds, each parsed to its type.

Field kinds by type: ``integer`` and ``number`` a number input, ``boolean`` a checkbox,
``string`` a text input, anything else (``array``, ``object``, ``null``, ``any``) a
textarea holding JSON. A field left empty is an error for a required parameter; else a
text field sends the empty string and the others are not sent (the deployment's value,
else the flow's default, applies). A checkbox always sends true or false.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ferroflow.client.deployments import json_type
from ferroflow.store.deployments import Deployment

__all__ = ["FIELD_PREFIX", "Field", "fields_of", "parse"]

#: Form field names are the parameter names behind this prefix (a parameter may be
#: called ``csrf``).
FIELD_PREFIX = "p."

_NUMBERS = ("integer", "number")
_JSON_KINDS = ("array", "object", "null", "any")


@dataclass(frozen=True)
class Field:
    """One parameter's field: its ``name``, ``type``, whether it is ``required``, the
    ``text`` shown in it (or ``checked`` for a boolean) and the ``error`` of the value
    last submitted, if any."""

    name: str
    type: str
    required: bool
    text: str = ""
    checked: bool = False
    error: str | None = None

    @property
    def input_name(self) -> str:
        """The field's name in the form."""
        return FIELD_PREFIX + self.name

    @property
    def kind(self) -> str:
        """``number``, ``checkbox``, ``text`` or ``json``: which control shows it."""
        if self.type in _NUMBERS:
            return "number"
        if self.type == "boolean":
            return "checkbox"
        return "text" if self.type == "string" else "json"


def _shown(kind_type: str, value: Any) -> str:
    """A value as its field shows it."""
    if kind_type == "string" and isinstance(value, str):
        return value
    if kind_type in _NUMBERS and isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


def fields_of(deployment: Deployment) -> list[Field]:
    """The fields of ``deployment``'s Run form, by parameter name: every parameter of its
    schema, and any parameter the deployment sets that the schema does not know (typed
    by its value), prefilled with the deployment's value, else the flow's default."""
    schema: Mapping[str, Any] = deployment.parameter_schema or {}
    out = []
    for name in sorted(set(schema) | set(deployment.parameters)):
        entry = schema.get(name) or {}
        has_value = name in deployment.parameters or entry.get("default") is not None
        value = deployment.parameters[name] if name in deployment.parameters else entry.get("default")
        kind_type = entry.get("type") or json_type(value)
        if kind_type == "boolean":
            out.append(Field(name, kind_type, bool(entry.get("required")), checked=value is True))
        else:
            out.append(Field(name, kind_type, bool(entry.get("required")),
                             text=_shown(kind_type, value) if has_value else ""))
    return out


def _parse_one(f: Field, text: str) -> Any:
    """The value of ``text`` for field ``f``; ValueError saying what is expected."""
    if f.type == "integer":
        try:
            return int(text.strip())
        except ValueError:
            raise ValueError("expected a whole number, such as 42") from None
    if f.type == "number":
        try:
            value = float(text.strip())
        except ValueError:
            raise ValueError("expected a number, such as 2.5") from None
        if not math.isfinite(value):
            raise ValueError("expected a finite number")
        return value
    if f.type == "string":
        return text
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"expected JSON: {exc}") from None
    if f.type == "array" and not isinstance(value, list):
        raise ValueError("expected a JSON array, such as [1, 2]")
    if f.type == "object" and not isinstance(value, dict):
        raise ValueError('expected a JSON object, such as {"key": 1}')
    try:
        json.dumps(value, allow_nan=False)
    except ValueError:
        raise ValueError("NaN and Infinity are not JSON values") from None
    return value


def parse(fields: list[Field], form: Mapping[str, Any]) -> tuple[dict[str, Any], list[Field]]:
    """The parameters a submitted ``form`` gives (only fields not left empty, and every
    checkbox), and the fields again holding the submitted text, each with its error
    (None when its value is good)."""
    values: dict[str, Any] = {}
    shown = []
    for f in fields:
        if f.kind == "checkbox":
            checked = form.get(f.input_name) in ("on", "true", "1")
            values[f.name] = checked
            shown.append(replace(f, checked=checked, error=None))
            continue
        raw = form.get(f.input_name)
        text = raw if isinstance(raw, str) else ""
        error = None
        if (text == "" if f.type == "string" else text.strip() == ""):
            if f.required:
                error = "required"
            elif f.type == "string":
                values[f.name] = ""
        else:
            try:
                values[f.name] = _parse_one(f, text)
            except ValueError as exc:
                error = str(exc)
        shown.append(replace(f, text=text, error=error))
    return values, shown
