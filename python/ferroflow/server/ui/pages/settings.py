"""Settings (``/settings``): who you are; for admins, the server's API keys (made and
revoked here: a new key is shown once, in the answer to the form that made it, never in
a URL or a log); the secrets' names and times (never a value: nothing is decrypted
here); the tags' concurrency limits (read only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ferroflow.server.ui.web import SESSION_COOKIE, PageError, Viewer, action, page, redirect, render, set_session
from ferroflow.store import concurrency, keys, secret_store
from ferroflow.store.database import writing
from ferroflow.store.sessions import find_session

__all__ = ["router"]

router = APIRouter()


def _session_key(request: Request) -> int | None:
    """The id of the key the viewer's session was opened with (None with authentication off)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    with request.app.state.engine.connect() as conn:
        found = find_session(conn, token)
    return None if found is None else found.key_id


def _settings(request: Request, viewer: Viewer, status: int = 200, **extra: object) -> Response:
    """The settings page: keys for admins, secrets' names and tag limits for everyone."""
    engine = request.app.state.engine
    listed: list[keys.ApiKey] = []
    if viewer.can_admin:
        with engine.connect() as conn:
            listed = keys.list_keys(conn)
    return render(request, "settings.html", status=status, nav="settings", keys=listed, roles=keys.ROLES,
                  own_key=_session_key(request), auth=request.app.state.authenticator.enabled,
                  secrets=secret_store.list_secrets(engine), limits=concurrency.list_limits(engine), **extra)


@router.get("/settings", summary="Settings")
def settings_page(request: Request, viewer: Annotated[Viewer, page("read")]) -> Response:
    """Who you are; API keys (admin); secrets' names; tags' concurrency limits."""
    return _settings(request, viewer)


@router.post("/settings/keys", summary="Make an API key")
def create_key(request: Request, viewer: Annotated[Viewer, action("admin")]) -> Response:
    """Make a key (form fields ``name``, ``role``) and show it, once, in this answer
    (``Cache-Control: no-store``, as every page): it is not kept, so it cannot be shown
    again."""
    form = request.state.form
    name, role = form.get("name"), form.get("role")
    name = name.strip() if isinstance(name, str) else ""
    role = role if isinstance(role, str) else ""
    try:
        with writing(request.app.state.engine) as conn, conn.begin():
            key, made = keys.create_key(conn, name, role)
    except ValueError as exc:
        return _settings(request, viewer, status=422, key_error=str(exc), key_name=name, key_role=role)
    return _settings(request, viewer, status=201, created=made, created_key=key)


@router.post("/settings/keys/revoke", summary="Revoke an API key")
def revoke_key(request: Request, viewer: Annotated[Viewer, action("admin")]) -> Response:
    """Revoke the key ``key_id`` (form field): requests with it get 401, sessions opened
    with it end. Revoking the key of this very session logs out."""
    given = request.state.form.get("key_id")
    if not isinstance(given, str) or not given.isdigit() or not 1 <= int(given) <= 2**63 - 1:
        raise PageError(400, "this form needs the id of the key to revoke")
    own = _session_key(request)
    try:
        with writing(request.app.state.engine) as conn, conn.begin():
            revoked = keys.revoke_key(conn, int(given))
    except keys.UnknownKeyError as exc:
        raise PageError(404, str(exc)) from None
    if own is not None and revoked.id == own:
        response = redirect(request, "/login", note=f"You revoked key {revoked.name!r}, the one this session was "
                                                    f"opened with: log in with another key.")
        set_session(request, response, None)
        return response
    return redirect(request, "/settings", note=f"Key {revoked.name!r} ({revoked.prefix}…) revoked.")
