"""Everything the UI shows is escaped: HTML and script payloads in a flow's name, task
names, parameters, tags, log lines, exception messages, the executor's name and a run's name, recorded by
real runs through the server, show as text on every page and never become markup.

The check looks at the DOM, not only for script that ran: the pages' Content-Security-
Policy would stop an injected inline script even if escaping failed, so the test fails
on any element the payloads would make (``<img src=x>``, ``<script>``, ``<b>``) as well
as on a dialog or a global set by script."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import httpx
import pytest

from ferroflow.store.keys import create_key
from ferroflow.store.remote import RemoteRunStore
from tests.support.servers import child_env

#: What the payloads would do if they became markup.
PAYLOAD = ('<script>window.__xss=1</script><img src=x class=xss-img onerror="window.__xss=2">'
           '<b class=xss-b>bold</b>"\'&amp;')

FLOW = textwrap.dedent('''
    from ferroflow import Flow, Parameter, task, get_logger
    from ferroflow.executors.local import LocalExecutor

    P = {payload!r}


    class PayloadExecutor(LocalExecutor):
        name = "local " + P

    @task(name="work " + P)
    def work(i):
        get_logger().warning("child says " + P)
        if i == 1:
            raise ValueError("child failed " + P)
        return i

    @task(name="explode " + P)
    def explode(x):
        get_logger().error("about to fail " + P)
        raise RuntimeError("boom " + P)

    with Flow("flow " + P, executor=PayloadExecutor()) as flow:
        p = Parameter("payload", default=P)
        explode(p)
        work.map([0, 1, 2])
''')


@pytest.fixture
def payload_run(ui, tmp_path):
    """A real run of the payload flow, recorded through the server; its id."""
    path = tmp_path / "xss_flow.py"
    path.write_text(FLOW.format(payload=PAYLOAD))
    done = subprocess.run([sys.executable, "-m", "ferroflow", "run", str(path), "--server", ui.url, "--no-progress",
                           "--param", "payload=" + PAYLOAD],
                          env=child_env({"FERROFLOW_API_KEY": ui.keys["run"], "FERROFLOW_HOME": str(tmp_path / "h")}),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr  # the run failed, as written
    with ui.client("read") as client:
        runs = client.list_runs().items
    assert len(runs) == 1
    return runs[0].run_id


#: The id of the run named with the payloads (:func:`named_run`).
NAMED = "5a" * 16


@pytest.fixture
def named_run(ui, payload_run):
    """A run whose name (schema 12: an eager flow's ``flow_run_name``) is the payloads,
    recorded through the server after the payload run; its id."""
    remote = RemoteRunStore(ui.url, api_key=ui.keys["run"])
    try:
        remote.start_run(NAMED, "named", {}, [(0, "t", None, False)], run_name=PAYLOAD)
        remote.end_run(NAMED, "Success")
        remote.flush()
    finally:
        remote.close()
    with ui.client("read") as client:
        assert client.get_run(NAMED).run_name == PAYLOAD  # (printable: kept as it is)
    return NAMED


def _pages(ui, run_id: str, named_id: str) -> list[str]:
    """Every page that shows something of the payloads: the run's, its mapped task's and
    failed child's, its flow's, a deployment's whose description, parameters and tags
    carry them, the settings page listing a key named with one, and the page of the run
    named with them (the runs list and the dashboard show that name too)."""
    from urllib.parse import quote

    with ui.client("admin") as client:
        tasks = client.run_tasks(run_id)
        flow = client.get_run(run_id).flow_name
        client.put("/api/v1/deployments/xss", {
            "entrypoint": "flow.py:flow", "flow_name": flow, "description": PAYLOAD, "tags": [PAYLOAD[:60]],
            "parameters": {"payload": PAYLOAD},
            "parameter_schema": {"payload": {"default": PAYLOAD, "required": False, "type": "string"}}})
    with ui.engine.begin() as conn:
        create_key(conn, '<img src=x class=xss-img onerror="window.__xss=3">', "read")
    mapped = next(t for t in tasks if t.is_mapped)
    return ["/", "/runs", f"/runs/{run_id}", f"/runs/{run_id}/logs", f"/runs/{run_id}/tasks/{mapped.task_id}",
            f"/runs/{run_id}/tasks/{mapped.task_id}/children/1", "/flows", "/flows/" + quote(flow, safe=""),
            "/deployments", "/deployments/xss", "/settings", f"/runs/{named_id}"]


def test_payloads_are_shown_as_text_on_every_page(ui, browser, payload_run, named_run):
    page = ui.login(browser, "admin")
    dialogs: list = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    seen_payload = 0
    pages = _pages(ui, payload_run, named_run)
    for path in pages:
        page.goto(ui.url + path)
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.__xss") is None, path
        assert page.locator("img.xss-img, b.xss-b").count() == 0, path
        scripts = page.eval_on_selector_all("script", "els => els.map(e => e.textContent + (e.src || ''))")
        assert not any("__xss" in s for s in scripts), path
        text = page.inner_text("body")
        assert page.locator("h1").count() == 1 and "404" not in page.inner_text("h1"), path
        seen_payload += text.count("<script>window.__xss=1</script>")
    assert not dialogs
    assert seen_payload >= len(pages) - 1  # the payloads are there, as text (settings has the key's only)
    page.context.close()


def test_raw_html_escapes_every_payload(ui, payload_run, named_run):
    """The same pages' HTML as served: the payload's tags only ever appear escaped."""
    with httpx.Client(timeout=60, base_url=ui.url) as http:
        form = http.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
        assert http.post("/login", data={"csrf": token, "key": ui.keys["read"]}).status_code == 303
        for path in _pages(ui, payload_run, named_run):
            if path == "/settings":
                continue  # (an admin page: this client is read)
            html = http.get(path).text
            assert "<script>window.__xss" not in html and "<img src=x" not in html and "<b class=xss-b>" not in html
            if path == f"/runs/{payload_run}":  # the executor, in the run's header
                assert '<dd class="mono executor">local &lt;script&gt;window.__xss=1&lt;/script&gt;' in html
            if path == f"/runs/{named_run}":  # the run's name, in its header and the page's title
                assert '<dd class="run-name">&lt;script&gt;window.__xss=1&lt;/script&gt;&lt;img src=x' in html
                assert re.search(r"<title>&lt;script&gt;window.__xss=1&lt;/script&gt;.* · Run ", html)
            if path in ("/", "/runs", "/flows"):  # the name beside the short id, in the runs tables
                assert '<span class="run-name" title="&lt;script&gt;window.__xss=1&lt;/script&gt;' in html
    with ui.client("read") as client:
        assert client.get_run(payload_run).executor.startswith("local <script>window.__xss=1</script>")
