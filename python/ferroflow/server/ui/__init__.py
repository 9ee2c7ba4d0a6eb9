"""The web UI: server-rendered pages at ``/`` of ``ferroflow server start``.

Pages are Jinja2 templates (``templates/``) rendered from the same query functions as
the API and the CLI (:mod:`ferroflow.store.queries`); pictures are SVG computed on the
server (the run graph's layout in the Rust core: :mod:`ferroflow.server.ui.graph`);
``static/`` holds the one stylesheet and the small plain scripts that keep live pages
current by polling small fragments. Everything is inside the wheel: nothing is fetched
from elsewhere, and nothing is built with Node.

Each topic is a module of :mod:`ferroflow.server.ui.pages` exposing ``router``;
:data:`PAGES` lists them. Who may see what, CSRF and rendering: :mod:`ferroflow.server.ui.web`.
``docs/ui.md`` is the user's guide.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from ferroflow.server.ui.pages import children, dashboard, deployments, flows, login, logs, runs, settings, workers
from ferroflow.server.ui.web import LoginRequired, PageError, error_page, redirect

__all__ = ["PAGES", "STATIC_PREFIX", "install"]

#: Where the stylesheet and scripts are served.
STATIC_PREFIX = "/static"

#: The routers of the UI's pages, included in this order.
PAGES = [login.router, dashboard.router, runs.router, logs.router, children.router, flows.router,
         deployments.router, workers.router, settings.router]


def install(app: FastAPI) -> None:
    """Add the UI's pages, its static files and its error pages to ``app``."""
    for router in PAGES:
        app.include_router(router, include_in_schema=False)
    app.mount(STATIC_PREFIX, StaticFiles(directory=str(Path(__file__).parent / "static")), name="static")

    async def login_required(request: Request, exc: Any) -> Response:
        from urllib.parse import urlencode

        return redirect(request, "/login?" + urlencode({"next": exc.next_url}))

    async def page_error(request: Request, exc: Any) -> Response:
        return error_page(request, exc.status, exc.message)

    for kind, handler in list(app.exception_handlers.items()):
        app.add_exception_handler(kind, _as_page(handler))
    app.add_exception_handler(LoginRequired, login_required)
    app.add_exception_handler(PageError, page_error)


def _as_page(handler: Any) -> Any:
    """The API's error ``handler`` (it answers a problem, JSON), answering an HTML error
    page instead for a request outside the API: a UI page's bad query or unknown path."""
    import inspect
    import json

    from ferroflow.server.app import API_PREFIX

    async def answer(request: Request, exc: Any) -> Response:
        response = handler(request, exc)
        if inspect.isawaitable(response):
            response = await response
        path = request.url.path
        if path.startswith(API_PREFIX) or path.startswith(STATIC_PREFIX + "/"):
            return response
        try:
            problem = json.loads(bytes(response.body))
            message = problem.get("detail") or problem.get("title") or "error"
        except (ValueError, AttributeError):
            message = "error"
        return error_page(request, response.status_code, str(message))

    return answer
