"""Every page of the web UI declares who may see it, as every API route does."""

from __future__ import annotations

from fastapi.routing import APIRoute

from ferroflow.server.ui import PAGES
from ferroflow.server.ui.web import PageCheck, _public


def _declared(dependant) -> list:
    found = []
    for sub in dependant.dependencies:
        call = sub.call
        if isinstance(call, PageCheck) or call is _public:
            found.append(call)
        found.extend(_declared(sub))
    return found


def test_every_ui_route_declares_a_role_or_public():
    routes = [r for router in PAGES for r in router.routes if isinstance(r, APIRoute)]
    assert routes
    missing = [f"{sorted(r.methods)} {r.path}" for r in routes if not _declared(r.dependant)]
    assert not missing, f"UI routes that declare no role (use web.page/action/public): {missing}"


def test_every_form_route_checks_csrf():
    """A route that changes something (POST) is an action (or the login form, which has
    its own double-submitted token)."""
    unchecked = []
    for router in PAGES:
        for r in router.routes:
            if isinstance(r, APIRoute) and "POST" in r.methods and r.path != "/login":
                if not any(isinstance(c, PageCheck) and c.form for c in _declared(r.dependant)):
                    unchecked.append(r.path)
    assert not unchecked, f"POST routes without web.action(...): {unchecked}"
