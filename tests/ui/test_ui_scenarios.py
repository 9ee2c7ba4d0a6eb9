"""The web UI end to end, as a user goes through it: a flow deployed with
``ferroflow deploy`` (its parameters' schema made from the real flow), a real worker,
a run started from the deployment's Run form with parameters, watched on its page
until it ends without a reload; a failed child's traceback found from the run page.
The screenshots of docs/ui.md come from here (``build/screenshots/``)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.browser import shoot
from tests.support.servers import child_env
from tests.support.workers import WorkerProcess

FLOWS = """
import time
from ferroflow import Flow, Parameter, task, get_logger, unmapped

@task
def extract(days):
    get_logger().info("extracting %d days", days)
    return list(range(days * 10))

@task
def transform(x, pause):
    time.sleep(pause)
    if x == 7:
        raise ValueError(f"row {x} is malformed: expected 3 columns, got 2")
    return x * 2

@task(trigger=lambda upstream: True)
def load(rows, label):
    get_logger().info("loaded %s rows into %s", len(rows), label)
    return len(rows)

with Flow("daily-etl") as etl:
    days = Parameter("days", default=1)
    label = Parameter("label", default="warehouse")
    pause = Parameter("pause", default=0.05)
    load(transform.map(extract(days), pause=unmapped(pause)), label)
"""


@pytest.fixture
def project(ui, tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "flows.py").write_text(FLOWS)
    done = subprocess.run([sys.executable, "-m", "ferroflow", "deploy", "flows.py:etl", "--name", "daily-etl",
                           "--server", ui.url, "--cron", "0 3 * * *", "--tag", "nightly"], cwd=folder,
                          env=child_env({"FERROFLOW_API_KEY": ui.keys["run"]}), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return folder


@pytest.fixture
def worker(ui, project, tmp_path):
    started = WorkerProcess(ui.url, project, tmp_path / "worker.log", "default",
                            env={"FERROFLOW_API_KEY": ui.keys["run"]})
    yield started
    started.stop(timeout=30)


def test_run_a_deployment_from_its_form_and_watch_it_finish_live(ui, browser, project, worker):
    page = ui.login(browser, "run", "/deployments/daily-etl")
    # the form is the flow's parameters, with their defaults
    assert page.input_value("[name='p.days']") == "1" and page.get_attribute("[name='p.days']", "type") == "number"
    assert page.input_value("[name='p.label']") == "warehouse"
    shoot(page, "deployment")
    page.fill("[name='p.days']", "2.5")  # not a whole number: said next to the field, nothing made
    page.click("#run")
    page.wait_for_selector(".field-error")
    assert "days" in page.inner_text(".field.bad")
    page.fill("[name='p.days']", "3")
    page.fill("[name='p.label']", "lake <main>")
    page.click("#run")
    page.wait_for_url(ui.url + "/runs/*")
    run_id = page.url.split("/runs/", 1)[1].split("?", 1)[0]
    page.evaluate("window.__same_page = true")
    # it goes from Scheduled to its end on this page, without a reload
    page.wait_for_selector("#run-head .state.st-running, #run-head .state.st-success", timeout=120_000)
    # (child 7 fails; load runs whatever its upstream did, and the run's state is load's)
    page.wait_for_selector("#run-head .state.st-success, #run-head .state.st-failed", timeout=180_000)
    assert page.inner_text("#run-head .state").strip() == "Success"
    page.wait_for_selector("#run-tasks:not([data-live])", timeout=60_000)
    assert page.evaluate("window.__same_page") is True
    assert '"lake <main>"' in page.inner_text("dl.params") and "3" in page.inner_text("dl.params")
    with ui.client("read") as client:
        tasks = {t.name: t for t in client.run_tasks(run_id)}
    assert tasks["transform"].width == 30 and tasks["transform"].counts == {"Success": 29, "Failed": 1}
    assert page.locator("#run-graph g.node").count() == 6  # (3 parameters, extract, transform, load)
    shoot(page, "run")
    # from the run page to the failed child's traceback
    page.click(f"#run-tasks a[href='/runs/{run_id}/tasks/{tasks['transform'].task_id}']")
    page.wait_for_selector("h1")
    shoot(page, "children")
    page.click("a:has-text('Failed')")
    page.click(f"a[href='/runs/{run_id}/tasks/{tasks['transform'].task_id}/children/7']")
    page.wait_for_selector("pre")
    assert "ValueError: row 7 is malformed" in page.inner_text("pre")
    shoot(page, "child")
    page.goto(ui.url + "/")
    assert run_id[:8] in page.inner_text("body")
    shoot(page, "dashboard")
    page.context.close()
