"""Logging in with an API key, and out."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ferroflow.server.ui.web import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    PageError,
    Viewer,
    action,
    public,
    redirect,
    render,
    safe_next,
    set_session,
)
from ferroflow.store.database import writing
from ferroflow.store.keys import find_key
from ferroflow.store.sessions import close_session, open_session

__all__ = ["router"]

router = APIRouter()


def _login_form(request: Request, status: int = 200, error: str | None = None) -> Response:
    token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(32)
    response = render(request, "login.html", status=status, error=error, login_csrf=token,
                      next=safe_next(request.query_params.get("next")))
    response.set_cookie(LOGIN_COOKIE, token, path="/login", httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")
    return response


@router.get("/login", summary="The login page", dependencies=[public()])
def login_page(request: Request) -> Response:
    """The login form (public). With authentication off there is nothing to log in to."""
    if not request.app.state.authenticator.enabled:
        return redirect(request, safe_next(request.query_params.get("next")))
    return _login_form(request)


@router.post("/login", summary="Log in", dependencies=[public()])
async def log_in(request: Request) -> Response:
    """Open a session for the API key posted (public; the form's own CSRF token, a
    double-submitted cookie, guards it)."""
    form = await request.form()
    cookie, given = request.cookies.get(LOGIN_COOKIE), form.get("csrf")
    if not cookie or not isinstance(given, str) or not hmac.compare_digest(cookie.encode(), given.encode()):
        raise PageError(403, "the login form is out of date (CSRF check failed): reload the page and try again")
    if not request.app.state.authenticator.enabled:
        return redirect(request, "/")
    key = form.get("key")
    token = await run_in_threadpool(_open, request, key.strip() if isinstance(key, str) else "")
    if token is None:
        return _login_form(request, 401, "That key is not valid (unknown or revoked).")
    target = form.get("next")
    response = redirect(request, safe_next(target if isinstance(target, str) else None))
    set_session(request, response, token)
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


def _open(request: Request, key: str) -> str | None:
    """A new session's token for ``key``, or None when the key is not valid."""
    if not key or len(key) > 200:
        return None
    with writing(request.app.state.engine) as conn, conn.begin():
        found = find_key(conn, key)
        if found is None or not found.active:
            return None
        token, _ = open_session(conn, name=found.name, role=found.role, key_id=found.id)
    return token


@router.post("/logout", summary="Log out")
def log_out(request: Request, viewer: Annotated[Viewer, action("read")]) -> Response:
    """Close the session."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        with writing(request.app.state.engine) as conn, conn.begin():
            close_session(conn, token)
    response = redirect(request, "/login" if request.app.state.authenticator.enabled else "/")
    set_session(request, response, None)
    return response
