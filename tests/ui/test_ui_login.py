"""Logging in to the web UI in a real browser; sessions, cookies, CSRF and roles."""

from __future__ import annotations

import httpx

from ferroflow.store.keys import revoke_key
from tests.support.browser import shoot


def test_the_dashboard_needs_a_login_and_opens_with_a_key(ui, browser):
    context = browser.new_context()
    page = context.new_page()
    page.goto(ui.url + "/")
    assert page.url.startswith(ui.url + "/login")  # sent to the login page
    page.fill("#key", "ffk_not-a-key")
    page.click("form[action='/login'] button[type=submit]")
    assert "not valid" in page.inner_text("[role=alert]")
    page.fill("#key", ui.keys["read"])
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(ui.url + "/")
    assert page.inner_text("h1") == "Dashboard"
    assert "read key" in page.inner_text("header")
    cookie = next(c for c in context.cookies() if c["name"] == "ferroflow_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and not cookie["secure"]  # (no TLS here)
    assert ui.keys["read"] not in page.content()  # the key is never shown back
    shoot(page, "dashboard")
    page.click("header form.who button")  # log out
    page.wait_for_url(ui.url + "/login*")
    page.goto(ui.url + "/")
    assert page.url.startswith(ui.url + "/login")
    context.close()


def test_login_goes_back_to_the_page_asked_for_but_never_off_the_server(ui, browser):
    page = browser.new_context().new_page()
    page.goto(ui.url + "/login?next=//evil.example/x")
    page.fill("#key", ui.keys["read"])
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(ui.url + "/")
    page.context.close()


def test_revoking_a_key_ends_its_sessions(ui, browser):
    page = ui.login(browser, "run")
    with ui.engine.begin() as conn:
        revoke_key(conn, ui.keys["run"])
    page.reload()
    assert page.url.startswith(ui.url + "/login")
    page.context.close()


def test_forms_without_the_session_csrf_token_are_refused(ui, browser):
    page = ui.login(browser, "admin")
    session = next(c["value"] for c in page.context.cookies() if c["name"] == "ferroflow_session")
    page.context.close()
    cookies = {"ferroflow_session": session}
    # a form posted without the token, with a wrong one, or from another site
    for data, headers in (({}, {}), ({"csrf": "guess"}, {}), ({"csrf": "guess"}, {"Origin": "http://evil.example"})):
        answer = httpx.post(timeout=60, url=ui.url + "/logout", data=data, cookies=cookies, headers=headers)
        assert answer.status_code == 403, answer.text
        assert "<h1>403</h1>" in answer.text
    # the session is still open: the refused forms did nothing
    assert httpx.get(timeout=60, url=ui.url + "/", cookies=cookies).status_code == 200


def test_login_form_has_its_own_csrf_check(ui):
    answer = httpx.post(timeout=60, url=ui.url + "/login", data={"key": ui.keys["admin"], "csrf": "x"})
    assert answer.status_code == 403
    assert "ferroflow_session" not in answer.cookies


def test_pages_send_a_strict_content_security_policy(ui, browser):
    page = ui.login(browser, "read")
    answer = page.request.get(ui.url + "/")
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert answer.headers["x-content-type-options"] == "nosniff"
    page.context.close()


def test_errors_outside_the_api_are_html_pages_and_inside_stay_problems(ui):
    import re

    with httpx.Client(timeout=60, base_url=ui.url) as http:
        form = http.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
        http.post("/login", data={"csrf": token, "key": ui.keys["read"]})
        missing = http.get("/no/such/page")
        assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
        assert "<h1>404</h1>" in missing.text
        bad = http.get("/?window=<b>")
        assert bad.status_code == 422 and "<h1>422</h1>" in bad.text and "<b>" not in bad.text
        api = http.get("/api/v1/no/such", headers={"Authorization": f"Bearer {ui.keys['read']}"})
        assert api.status_code == 404 and api.headers["content-type"] == "application/problem+json"


def test_a_session_opened_without_authentication_is_refused_once_it_is_on(tmp_path):
    """With authentication off (loopback, no --auth) the UI opens an admin session for
    anyone; the same database served with --auth later must not honour that cookie."""
    from tests.support.browser import UI

    ui = UI(tmp_path)
    ui.server.args = tuple(a for a in ui.server.args if a != "--auth")
    ui.start()
    try:
        first = httpx.get(timeout=60, url=ui.url + "/")
        assert first.status_code == 200 and "<h1>Dashboard</h1>" in first.text  # (no login asked)
        cookies = {"ferroflow_session": first.cookies["ferroflow_session"]}
    finally:
        ui.server.kill()
    ui.server.args = (*ui.server.args, "--auth")
    ui.server.start()
    try:
        again = httpx.get(timeout=60, url=ui.url + "/", cookies=cookies)
        assert again.status_code == 303 and again.headers["location"].startswith("/login")
    finally:
        ui.stop()
