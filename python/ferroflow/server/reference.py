"""The API reference of ``docs/server.md``, written from the OpenAPI document.

::

    python -m ferroflow.server.reference            # rewrite the reference in docs/server.md
    python -m ferroflow.server.reference --check    # exit 1 if it is not up to date

The reference sits between the markers :data:`START` and :data:`END`; a test checks it
is what this module writes from the application's OpenAPI document, so it names every
route with its role, parameters, body and answers.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

__all__ = ["END", "START", "markdown", "update"]

START = "<!-- api-reference:start (written by `python -m ferroflow.server.reference`; do not edit) -->"
END = "<!-- api-reference:end -->"


def _ref_name(schema: dict) -> str:
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if schema.get("type") == "array" and "items" in schema:
        return f"list of {_ref_name(schema['items'])}"
    if "anyOf" in schema:
        return " or ".join(_ref_name(s) for s in schema["anyOf"])
    return str(schema.get("type", "object"))


def _cell(text: Any) -> str:
    return " ".join(str(text).replace("``", "`").split()).replace("|", "\\|")


def _role(operation: dict, roles: dict, method: str, path: str) -> str:
    role = roles.get((method.upper(), path))
    return "public" if role is None else f"`{role}`"


def markdown(document: dict, roles: dict) -> str:
    """The reference: for each route (in the document's order), its method and path,
    the role it needs (``roles``: ``(METHOD, path) -> role or None``), what it does,
    its parameters, body and answers; then the models."""
    out = [START, ""]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            out.append(f"### `{method.upper()} {path}`")
            out.append("")
            out.append(f"{operation.get('summary', '')}. Role: {_role(operation, roles, method, path)}.")
            out.append("")
            description = operation.get("description", "").strip()
            if description:
                out.append(_cell(description).replace("\\|", "|"))
                out.append("")
            parameters = operation.get("parameters", [])
            if parameters:
                out.append("| parameter | in | type | |")
                out.append("|---|---|---|---|")
                for p in parameters:
                    schema = p.get("schema", {})
                    kind = _ref_name(schema) if "anyOf" not in schema else " or ".join(
                        _ref_name(s) for s in schema["anyOf"] if s.get("type") != "null")
                    out.append(f"| `{p['name']}` | {p['in']} | {kind}{'' if p.get('required') else ', optional'} "
                               f"| {_cell(p.get('description', schema.get('description', '')))} |")
                out.append("")
            body = operation.get("requestBody")
            if body:
                schema = next(iter(body["content"].values())).get("schema", {})
                out.append(f"Body: {_ref_name(schema)}{'' if body.get('required') else ' (optional)'}.")
                out.append("")
            answers = []
            for status, answer in operation.get("responses", {}).items():
                content = answer.get("content") or {}
                schema = next(iter(content.values())).get("schema", {}) if content else {}
                shown = f" ({_ref_name(schema)})" if schema else ""
                answers.append(f"`{status}` {_cell(answer.get('description', ''))}{shown}")
            out.append("Answers: " + "; ".join(answers) + ".")
            out.append("")
    out.append("### Models")
    out.append("")
    for name, schema in sorted(document.get("components", {}).get("schemas", {}).items()):
        if name in ("HTTPValidationError", "ValidationError") or name.startswith("ValidationError"):
            continue
        fields = schema.get("properties", {})
        out.append(f"**{name}**: {_cell(schema.get('description', ''))}")
        out.append("")
        if fields:
            required = set(schema.get("required", []))
            out.append("| field | type | |")
            out.append("|---|---|---|")
            for field, spec in fields.items():
                kind = _ref_name(spec) if "anyOf" not in spec else " or ".join(
                    "null" if s.get("type") == "null" else _ref_name(s) for s in spec["anyOf"])
                out.append(f"| `{field}` | {kind}{'' if field in required else ', optional'} | "
                           f"{_cell(spec.get('description', ''))} |")
            out.append("")
    out.append(END)
    return "\n".join(out)


def _app_reference() -> str:
    from sqlalchemy import create_engine

    from ferroflow.server.app import api_routes, create_app
    from ferroflow.server.auth import declared_role

    app = create_app(create_engine("sqlite://"), auth=True)  # (the document needs no database)
    roles = {(m, p.replace(":path}", "}")): declared_role(r)[1] for m, p, r in api_routes(app)}
    return markdown(app.openapi(), roles)


def update(doc: Path, check: bool = False) -> bool:
    """Rewrite (or with ``check``, compare) the reference in ``doc``; whether it was
    up to date."""
    text = doc.read_text()
    if START not in text or END not in text:
        raise ValueError(f"{doc} has no API reference markers ({START} ... {END})")
    before, rest = text.split(START, 1)
    after = rest.split(END, 1)[1]
    new = before + _app_reference() + after
    if new == text:
        return True
    if not check:
        doc.write_text(new)
    return False


def main(argv: list[str] | None = None) -> int:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m ferroflow.server.reference")
    parser.add_argument("--doc", type=Path, default=Path(__file__).resolve().parents[3] / "docs" / "server.md")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    fresh = update(args.doc, check=args.check)
    if args.check and not fresh:
        print(f"{args.doc}: the API reference is out of date: run `python -m ferroflow.server.reference`",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
