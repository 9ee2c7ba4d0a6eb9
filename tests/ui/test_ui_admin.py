"""The workers and pools page and the settings page, in a real browser on a real server:
a real worker shows up (and its end, live), pausing and limiting a pool from the page is
what the API then says, a key made on the page is shown once and works, revoking it
makes it fail, secrets show by name and never by value, a read key sees no admin form
and its posts are refused."""

from __future__ import annotations

import httpx
import pytest

from ferroflow.store.secret_store import KEY_ENV, new_key
from tests.support.browser import UI, shoot
from tests.support.workers import WorkerProcess


def _accept_dialogs(page) -> None:
    page.on("dialog", lambda dialog: dialog.accept())


def _api(ui, method: str, path: str, body=None, role: str = "admin"):
    """What the API answers (with ``role``'s key)."""
    with ui.client(role) as client:
        return getattr(client, method)(path) if body is None else getattr(client, method)(path, body)


def _pool(ui, name: str) -> dict:
    return next(p for p in _api(ui, "get", "/api/v1/pools", role="read") if p["name"] == name)


def _note(page) -> str:
    return page.inner_text("p.note")


def _submit(page, target) -> None:
    """Click a form's button (a selector or a locator) and wait for the page it leads to."""
    with page.expect_navigation():
        (page.locator(target) if isinstance(target, str) else target).click()


def test_workers_page_shows_a_real_worker_live_and_pauses_and_limits_its_pool(ui, browser, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    worker = WorkerProcess(ui.url, project, tmp_path / "worker.log", "gpu-pool", "--name", "worker-one",
                           env={"FERROFLOW_API_KEY": ui.keys["run"]})
    try:
        page = ui.login(browser, "admin", "/workers")
        _accept_dialogs(page)
        # the worker appears in the live table (no reload: the table is polled)
        row = page.wait_for_selector("tr[data-worker='worker-one']", timeout=60_000)
        assert "gpu-pool" in row.inner_text() and "healthy" in row.inner_text(), worker.log()
        # its pool is listed though nobody set it yet; pause it from the page
        page.goto(ui.url + "/workers")
        pool_row = page.locator("tr[data-pool='gpu-pool']")
        assert "open" in pool_row.inner_text()
        _submit(page, pool_row.locator("button[value=pause]"))
        assert "paused" in _note(page)
        assert _pool(ui, "gpu-pool")["paused"] is True
        assert "paused" in page.locator("tr[data-pool='gpu-pool'] td").nth(1).inner_text()
        # a bad limit is a message, and changes nothing
        page.fill("tr[data-pool='gpu-pool'] input[name=limit]", "many")
        _submit(page, "tr[data-pool='gpu-pool'] button[value=limit]")
        assert "whole number" in _note(page) and "'many'" in _note(page)
        assert _pool(ui, "gpu-pool")["concurrency_limit"] is None
        page.fill("tr[data-pool='gpu-pool'] input[name=limit]", "3")
        _submit(page, "tr[data-pool='gpu-pool'] button[value=limit]")
        assert "runs at most 3 runs" in _note(page)
        assert _pool(ui, "gpu-pool")["concurrency_limit"] == 3
        shoot(page, "workers")
        _submit(page, "tr[data-pool='gpu-pool'] button[value=clear]")
        assert "no limit on active runs" in _note(page)
        assert _pool(ui, "gpu-pool")["concurrency_limit"] is None
        _submit(page, "tr[data-pool='gpu-pool'] button[value=resume]")
        assert "resumed" in _note(page)
        assert _pool(ui, "gpu-pool")["paused"] is False
        # the worker stops: the live table says so without a reload
        assert worker.stop() == 0, worker.log()
        page.wait_for_selector("tr[data-worker='worker-one'] .state.st-cancelled", timeout=60_000)
        assert "stopped" in page.inner_text("tr[data-worker='worker-one']")
        page.context.close()
    finally:
        worker.stop()


def test_a_key_made_on_the_settings_page_is_shown_once_works_and_revoking_it_fails_it(ui, browser):
    page = ui.login(browser, "admin", "/settings")
    _accept_dialogs(page)
    for key in ui.keys.values():
        assert key not in page.content()  # (keys are never shown back: only their prefixes)
    page.fill("form[action='/settings/keys'] input[name=name]", "ci <deploys>")
    page.select_option("form[action='/settings/keys'] select[name=role]", "run")
    with page.expect_response(lambda r: r.url == ui.url + "/settings/keys") as made:
        page.click("form[action='/settings/keys'] button[type=submit]")
    answer = made.value
    assert answer.status == 201 and answer.headers["cache-control"] == "no-store"
    key = page.inner_text("#new-key").strip()
    assert key.startswith("ffk_")
    assert key not in page.url
    assert "ci <deploys>" in page.inner_text(".new-key")  # (escaped, shown as text)
    shoot(page, "settings")
    # the key works against the API, with its role
    headers = {"Authorization": f"Bearer {key}"}
    assert httpx.get(timeout=60, url=ui.url + "/api/v1/runs", headers=headers).status_code == 200
    assert httpx.get(timeout=60, url=ui.url + "/api/v1/keys", headers=headers).status_code == 403
    # shown once: the page again shows its prefix, never the key
    page.goto(ui.url + "/settings")
    assert key not in page.content() and key[:12] in page.content()
    # revoke it from the page
    row = page.locator("tr[data-key]", has_text="ci <deploys>")
    _submit(page, row.locator("button", has_text="Revoke"))
    assert "revoked" in _note(page)
    assert httpx.get(timeout=60, url=ui.url + "/api/v1/runs", headers=headers).status_code == 401
    assert page.locator("tr[data-key].revoked", has_text="ci <deploys>").count() == 1
    assert key not in ui.server.log()  # (never in the server's log either)
    page.context.close()


def test_revoking_the_key_of_ones_own_session_logs_out(ui, browser):
    page = ui.login(browser, "admin", "/settings")
    _accept_dialogs(page)
    row = page.locator("tr[data-key]", has_text="(this session)")
    assert "admin key" in row.inner_text()
    _submit(page, row.locator("button", has_text="Revoke"))
    assert "/login" in page.url
    assert "revoked" in _note(page)
    admin = {"Authorization": f"Bearer {ui.keys['admin']}"}
    assert httpx.get(timeout=60, url=ui.url + "/api/v1/runs", headers=admin).status_code == 401
    page.goto(ui.url + "/settings")
    assert page.url.startswith(ui.url + "/login")
    page.context.close()


@pytest.fixture
def ui_with_secrets(tmp_path):
    started = UI(tmp_path, env={KEY_ENV: new_key()}).start()
    yield started
    started.stop()


def test_secrets_show_by_name_never_by_value(ui_with_secrets, browser):
    ui = ui_with_secrets
    value = "hunter2-value-never-shown"
    _api(ui, "put", "/api/v1/secrets/warehouse_password", {"value": value})
    for role in ("read", "admin"):
        page = ui.login(browser, role, "/settings")
        assert "warehouse_password" in page.inner_text("table.secrets")
        assert value not in page.content()
        page.context.close()


def test_a_read_key_sees_no_admin_form_and_its_posts_are_refused(ui, browser):
    page = ui.login(browser, "read", "/settings")
    assert page.locator("form[action^='/settings/keys']").count() == 0
    assert "needs a key with the admin role" in page.inner_text("main")
    assert page.locator("table.keys").count() == 0
    page.goto(ui.url + "/workers")
    _api(ui, "put", "/api/v1/pools/default", {"paused": False})
    page.goto(ui.url + "/workers")
    assert page.locator("tr[data-pool='default']").count() == 1
    assert page.locator("form[action='/workers/pool']").count() == 0
    csrf = page.locator("header form.who input[name=csrf]").get_attribute("value")
    # the session's own CSRF token does not make up for the role
    for path, data in (("/workers/pool", {"pool": "default", "do": "pause"}),
                       ("/settings/keys", {"name": "sneaky", "role": "admin"}),
                       ("/settings/keys/revoke", {"key_id": "1"})):
        answer = page.request.post(ui.url + path, form={"csrf": csrf, **data})
        assert answer.status == 403, (path, answer.status)
        assert "admin" in answer.text()
    assert _pool(ui, "default")["paused"] is False
    listed = _api(ui, "get", "/api/v1/keys")
    assert all(k["revoked_at"] is None for k in listed) and not any(k["name"] == "sneaky" for k in listed)
    page.context.close()


def test_a_run_key_also_sees_no_admin_forms(ui, browser):
    page = ui.login(browser, "run", "/workers")
    assert page.locator("form[action='/workers/pool']").count() == 0
    page.goto(ui.url + "/settings")
    assert page.locator("form[action^='/settings/keys']").count() == 0
    page.context.close()


def test_the_workers_fragment_needs_a_session(ui):
    answer = httpx.get(timeout=60, url=ui.url + "/workers/live")
    assert answer.status_code in (303, 307) and "/login" in answer.headers["location"]


def test_worker_and_pool_names_are_shown_as_text(ui, browser):
    payload = '<img src=x class=xss-img onerror="window.__xss=1"><b class=xss-b>b</b>'
    _api(ui, "post", "/api/v1/workers/" + "ab" * 16 + "/heartbeat",
         {"name": "w " + payload, "pool": "p " + payload, "hostname": "h " + payload, "pid": 1, "concurrency": 1},
         role="run")
    page = ui.login(browser, "admin", "/workers")
    assert page.locator("img.xss-img, b.xss-b").count() == 0
    assert page.evaluate("window.__xss") is None
    assert ("w " + payload) in page.inner_text("#workers-live") and ("p " + payload) in page.inner_text("table.pools")
    page.context.close()
