"""docs/server.md documents every route: its API reference is the one written from
the OpenAPI document, and names each route."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine

from ferroflow.server import reference
from ferroflow.server.app import api_routes, create_app

DOC = Path(__file__).resolve().parents[2] / "docs" / "server.md"


def test_every_route_appears_in_the_doc():
    text = DOC.read_text()
    app = create_app(create_engine("sqlite://"), auth=True)  # (the document needs no database)
    routes = {(method, path.replace(":path}", "}")) for method, path, _ in api_routes(app)}
    assert len(routes) >= 18
    missing = [f"{m} {p}" for m, p in sorted(routes) if f"### `{m} {p}`" not in text]
    assert not missing, f"routes missing from docs/server.md (run `python -m ferroflow.server.reference`): {missing}"


def test_the_reference_is_up_to_date():
    assert reference.update(DOC, check=True), "run `python -m ferroflow.server.reference` to rewrite it"
