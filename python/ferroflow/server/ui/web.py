"""What every page of the web UI shares: who is looking, roles and CSRF, templates.

A page route declares the role it needs, as API routes do, with :func:`page` (a page to
look at) or :func:`action` (a form that changes something: it also checks the form's
CSRF token and the request's origin)::

    @router.get("/runs/{run_id}")
    def run_page(request: Request, viewer: Annotated[Viewer, page("read")], conn: Reading) -> Response:
        return render(request, "run.html", run=...)

    @router.post("/runs/{run_id}/cancel")
    def cancel(request: Request, viewer: Annotated[Viewer, action("run")], ...) -> Response:
        return redirect(request, f"/runs/{run_id}", note="Cancelling")

A visitor without a session is sent to ``/login`` (with authentication off, a session is
opened for them at once: everyone is admin); a role too weak gets a 403 page; a form
without the session's CSRF token, or posted from another origin, gets a 403 page. A test
enumerates the UI's routes and fails for any that declares neither.

Templates (``templates/``) are Jinja2 with autoescaping on: every value shown is
escaped. Pages send a Content-Security-Policy that allows no inline script or style, so
that an escaping slip cannot run script either. Formatting filters (``when``, ``ago``,
``duration``, ``number``, ``short``, ``state_class``) live here, once.
"""

from __future__ import annotations

import hmac
import time
import urllib.parse
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from ferroflow.store.database import writing
from ferroflow.store.keys import role_allows
from ferroflow.store.sessions import Session, find_session, open_session

__all__ = ["LOGIN_COOKIE", "LoginRequired", "PageCheck", "PageError", "SESSION_COOKIE", "Viewer", "action", "ago",
           "duration", "error_page", "finish", "iso", "number", "page", "public", "redirect", "render", "safe_next",
           "set_session", "short", "state_class", "templates", "when"]

#: The session cookie (HttpOnly, SameSite=Lax, Secure over TLS).
SESSION_COOKIE = "ferroflow_session"
#: The note an action leaves for the next page (shown once).
NOTE_COOKIE = "ferroflow_note"
#: Longest note kept.
NOTE_CHARS = 600
#: The login form's CSRF cookie (double submit: no session exists yet).
LOGIN_COOKIE = "ferroflow_login"
#: Headers of every page: no inline script or style, no framing, no sniffing.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; "
                               "object-src 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

_HERE = Path(__file__).parent


# ----- formatting (template filters) -------------------------------------------------


def when(ts: float | None) -> str:
    """A time as ``2026-12-07 02:19:28`` (UTC; ``ui.js`` shows it in the browser's zone)."""
    if ts is None:
        return "—"
    return datetime.fromtimestamp(float(ts), timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def iso(ts: float | None) -> str:
    """A time in ISO 8601 with its zone (for ``<time datetime>``)."""
    if ts is None:
        return ""
    return datetime.fromtimestamp(float(ts), timezone.utc).isoformat(timespec="seconds")


def duration(seconds: float | None) -> str:
    """A duration as the command line writes it (``0.31s``, ``12.3s``, ``2m03s``,
    ``1h02m05s``: :func:`ferroflow.cli.formatting.format_duration`), ``—`` for None."""
    from ferroflow.cli.formatting import format_duration

    return "—" if seconds is None else format_duration(seconds)


def ago(ts: float | None, now: float | None = None) -> str:
    """How long ago (or, for a future time, in how long) ``ts`` is."""
    if ts is None:
        return "—"
    delta = (time.time() if now is None else now) - float(ts)
    return f"{duration(delta)} ago" if delta >= 0 else f"in {duration(-delta)}"


def number(n: int | float | None) -> str:
    """``1,234,567``."""
    return "—" if n is None else f"{n:,}"


def short(run_id: str | None) -> str:
    """A run id's first eight characters (what the UI shows; links carry the full id)."""
    return "" if run_id is None else str(run_id)[:8]


def state_class(state: str | None) -> str:
    """The CSS class that colors a state: ``st-`` and its name in lower case, ``-`` for
    spaces and underscores (``st-none`` for no state)."""
    if not state:
        return "st-none"
    return "st-" + "".join(c if c.isalnum() else "-" for c in str(state).lower())


templates = Jinja2Templates(directory=str(_HERE / "templates"))
templates.env.autoescape = True  # (every template, whatever its name)
templates.env.filters.update(when=when, iso=iso, duration=duration, ago=ago, number=number, short=short,
                             state_class=state_class)


# ----- who is looking ----------------------------------------------------------------


@dataclass(frozen=True)
class Viewer:
    """Who looks at a page: the key's ``name`` and ``role`` (``admin`` with
    authentication off) and the session's ``csrf`` token (every form carries it)."""

    name: str
    role: str
    csrf: str

    @property
    def can_run(self) -> bool:
        """Whether actions that start or stop runs are allowed (role ``run`` or more)."""
        return role_allows(self.role, "run")

    @property
    def can_admin(self) -> bool:
        """Whether settings may be changed (role ``admin``)."""
        return role_allows(self.role, "admin")


class LoginRequired(Exception):
    """The visitor has no valid session: sent to the login page."""

    def __init__(self, next_url: str):
        super().__init__(next_url)
        self.next_url = next_url


class PageError(Exception):
    """A page that cannot be shown (or an action refused): rendered as an HTML page with
    ``status`` and ``message``."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _session(request: Request) -> Session | None:
    """The request's valid session (opening one, with authentication off, for a visitor
    without: it is admin)."""
    authenticator = request.app.state.authenticator
    token = request.cookies.get(SESSION_COOKIE)
    engine = request.app.state.engine
    with engine.connect() as conn:
        found = find_session(conn, token) if token else None
    if found is not None and authenticator.enabled and found.key_id is None:
        found = None  # opened while authentication was off
    if found is None and not authenticator.enabled:
        with writing(engine) as conn, conn.begin():  # (SQLite: BEGIN IMMEDIATE, never "locked" half-way)
            token, found = open_session(conn, name="(authentication off)", role="admin", key_id=None)
        request.state.new_session = token
    return found


class PageCheck:
    """The dependency :func:`page` and :func:`action` declare: the viewer, with at least
    ``role``; with ``form``, the request's form must carry the session's CSRF token and
    come from this server's origin (the form is then ``request.state.form``)."""

    def __init__(self, role: str, form: bool = False):
        self.role = role
        self.form = form

    async def __call__(self, request: Request) -> Viewer:
        found = await run_in_threadpool(_session, request)
        if found is None:
            if self.form:
                raise PageError(401, "your session has ended: log in again")
            raise LoginRequired(str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""))
        viewer = Viewer(found.name, found.role, found.csrf)
        request.state.viewer = viewer
        if not role_allows(viewer.role, self.role):
            raise PageError(403, f"this needs a key with role {self.role!r} or stronger; key {viewer.name!r} has "
                                 f"role {viewer.role!r} (roles: read < run < admin)")
        if self.form:
            _same_origin(request)
            form = await request.form()
            given = form.get("csrf")
            if not isinstance(given, str) or not hmac.compare_digest(given.encode(), viewer.csrf.encode()):
                raise PageError(403, "this form is out of date or did not come from this server (CSRF check "
                                     "failed): reload the page and try again")
            request.state.form = form
        return viewer


def _same_origin(request: Request) -> None:
    """Refuse a form posted from another origin (browsers send ``Origin`` with POSTs)."""
    origin = request.headers.get("origin")
    if origin is None:  # (not a browser, or one that sends none: the CSRF token still holds)
        return
    host = request.headers.get("host", "")
    if urllib.parse.urlsplit(origin).netloc != host:
        raise PageError(403, "this form was posted from another site: refused")


def page(role: str = "read") -> Any:
    """Declare a page: its viewer needs ``role`` (``read``, ``run`` or ``admin``)."""
    return Depends(PageCheck(role))


def public() -> Any:
    """Declare a public page (the login form): no session needed."""
    return Depends(_public)


def _public() -> None:
    return None


def action(role: str = "run") -> Any:
    """Declare an action (a POSTed form): ``role``, the CSRF token and the origin."""
    return Depends(PageCheck(role, form=True))


# ----- responses ---------------------------------------------------------------------


def set_session(request: Request, response: Response, token: str | None) -> None:
    """Set (``token``) or clear (None) the session cookie on ``response``."""
    secure = request.url.scheme == "https"
    if token is None:
        response.delete_cookie(SESSION_COOKIE, path="/", secure=secure, httponly=True, samesite="lax")
    else:
        response.set_cookie(SESSION_COOKIE, token, path="/", secure=secure, httponly=True, samesite="lax")


def finish(request: Request, response: Response) -> Response:
    """``response`` with the UI's security headers and, when one was just opened, the
    session cookie."""
    response.headers.update(SECURITY_HEADERS)
    token = getattr(request.state, "new_session", None)
    if token is not None:
        set_session(request, response, token)
    return response


def render(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    """The page ``template`` rendered with ``context``, the viewer (``viewer``: None on
    pages without one), the server's version and the request."""
    from ferroflow.server.app import server_version

    viewer = getattr(request.state, "viewer", None)
    note = request.cookies.get(NOTE_COOKIE)
    if note is not None:
        context.setdefault("note", urllib.parse.unquote(note)[:NOTE_CHARS] or None)
    response = templates.TemplateResponse(request, template, {"viewer": viewer, "version": server_version(),
                                                              **context}, status_code=status)
    if note is not None and not template.startswith("partials/"):  # (shown once, by the next whole page)
        response.delete_cookie(NOTE_COOKIE, path="/", secure=request.url.scheme == "https", httponly=True,
                               samesite="strict")
    return finish(request, response)


def redirect(request: Request, url: str, note: str | None = None) -> Response:
    """A 303 to ``url`` (a path of this server), with a ``note`` the next page shows
    once. The note travels in a short-lived cookie, not in the URL: a link made
    elsewhere cannot put words on a page of this server."""
    response = finish(request, RedirectResponse(url, status_code=303))
    if note:
        response.set_cookie(NOTE_COOKIE, urllib.parse.quote(note[:NOTE_CHARS]), max_age=60, path="/",
                            secure=request.url.scheme == "https", httponly=True, samesite="strict")
    return response


def safe_next(url: str | None) -> str:
    """Where to go after logging in: ``url`` if it is a path of this server, else ``/``."""
    if not url or not url.startswith("/") or url.startswith("//") or "\\" in url or any(c < " " for c in url):
        return "/"
    return url


def error_page(request: Request, status: int, message: str) -> Response:
    """The HTML page of an error."""
    return render(request, "error.html", status=status, status_code=status, message=message)

