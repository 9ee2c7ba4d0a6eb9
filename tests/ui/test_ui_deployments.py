"""Flows and deployments in a real browser on a real server: a deployment made through
the API with the parameter schema of a real flow; its page, the Run form (defaults,
per-field errors that keep the input, typed values), the schedule's pause toggle; what
a read key sees and may do."""

from __future__ import annotations

import datetime

import httpx
import pytest

from ferroflow import Flow, Parameter
from ferroflow.client.deployments import ServerDeployments, parameter_schema
from ferroflow.schedules import IntervalClock, Schedule, to_spec
from ferroflow.store.scheduling import schedule
from tests.support.browser import UI, shoot
from tests.support.server_data import write_sample

NAME = "typed-hourly"


def typed_flow() -> Flow:
    flow = Flow("typed")
    for p in (Parameter("n", default=3), Parameter("rate", default=0.5), Parameter("dry", default=False),
              Parameter("label", default="x <y>"), Parameter("items", default=[1, 2]),
              Parameter("opts", default={"a": 1}), Parameter("target")):
        flow.add_task(p)
    return flow


@pytest.fixture
def ui(tmp_path):
    """A server whose scheduler does not run by itself: the test makes the scheduled runs
    (one tick of the real scheduler) when it wants them."""
    started = UI(tmp_path, args=("--no-scheduler",)).start()
    yield started
    started.stop()


@pytest.fixture
def deployed(ui):
    flow = typed_flow()
    with ui.client("run") as client:
        made, created = ServerDeployments(client).deploy(
            NAME, entrypoint="flows/typed.py:flow", flow_name=flow.name, parameters={"n": 5},
            schedule=to_spec(Schedule([IntervalClock(datetime.timedelta(hours=1))])), pool="etl", tags=["nightly"],
            retries=2, description="typed <parameters>", parameter_schema=parameter_schema(flow))
    assert created and made.parameter_schema == parameter_schema(flow)
    return made


def _field(page, name: str):
    return page.locator(f".field[data-param='{name}']")


def _scheduled(ui) -> list:
    with ui.client("read") as client:
        return [r for r in client.list_runs(flow="typed", states=["Scheduled"], limit=100).items]


def test_the_run_form_shows_defaults_checks_each_field_and_makes_a_typed_run(ui, browser, deployed):
    page = ui.login(browser, "run", f"/deployments/{NAME}")
    assert NAME in page.inner_text("h1") and "active" in page.inner_text("#status")
    assert "every 1 h" in page.inner_text("#schedule")
    assert "typed <parameters>" in page.inner_text(".description")
    # defaults: the deployment's own parameters override the flow's
    assert page.input_value("[name='p.n']") == "5"
    assert page.get_attribute("[name='p.n']", "type") == "number"
    assert page.input_value("[name='p.rate']") == "0.5"
    assert page.get_attribute("[name='p.dry']", "type") == "checkbox" and not page.is_checked("[name='p.dry']")
    assert page.input_value("[name='p.label']") == "x <y>"
    assert page.input_value("textarea[name='p.items']") == "[1, 2]"
    assert page.input_value("textarea[name='p.opts']") == '{"a": 1}'
    assert page.input_value("textarea[name='p.target']") == ""
    assert _field(page, "target").locator(".required").count() == 1
    assert _field(page, "n").locator(".required").count() == 0
    shoot(page, "deployment")
    # bad values: each field says what is wrong, and keeps what was typed
    page.fill("[name='p.n']", "2.5")
    page.fill("[name='p.label']", "<b>kept</b>")
    page.fill("textarea[name='p.items']", "{not json")
    page.fill("textarea[name='p.opts']", "[1]")
    with page.expect_response(lambda r: r.url.endswith("/run")) as answer:
        page.click("#run")
    assert answer.value.status == 422
    assert "whole number" in _field(page, "n").locator(".field-error").inner_text()
    assert "expected JSON" in _field(page, "items").locator(".field-error").inner_text()
    assert "JSON object" in _field(page, "opts").locator(".field-error").inner_text()
    assert _field(page, "target").locator(".field-error").inner_text() == "required"
    assert _field(page, "rate").locator(".field-error").count() == 0
    assert page.input_value("[name='p.n']") == "2.5"
    assert page.input_value("[name='p.label']") == "<b>kept</b>"
    assert page.input_value("textarea[name='p.items']") == "{not json"
    assert page.locator("main b").count() == 0
    assert _scheduled(ui) == []  # no run was made
    # good values: a run with typed parameters
    page.fill("[name='p.n']", "7")
    page.fill("[name='p.rate']", "1.25")
    page.check("[name='p.dry']")
    page.fill("[name='p.label']", "hello")
    page.fill("textarea[name='p.items']", "[3, \"x\"]")
    page.fill("textarea[name='p.opts']", '{"b": [1, null]}')
    page.fill("textarea[name='p.target']", '"prod"')
    page.click("#run")
    page.wait_for_url(ui.url + "/runs/*")
    run_id = page.url.split("/runs/")[1].split("?")[0]
    with ui.client("read") as client:
        run = client.get_run(run_id)
    assert run.flow_name == "typed" and run.state == "Scheduled"
    assert run.parameters == {"n": 7, "rate": 1.25, "dry": True, "label": "hello", "items": [3, "x"],
                              "opts": {"b": [1, None]}, "target": "prod"}
    page.context.close()


def test_pausing_and_resuming_the_schedule(ui, browser, deployed):
    schedule(ui.engine, horizon=4 * 3600)  # one tick of the scheduler: the runs of the next 4 hours
    made = [r.run_id for r in _scheduled(ui)]
    assert len(made) >= 4
    page = ui.login(browser, "run", f"/deployments/{NAME}")
    upcoming = page.locator("#schedule-title ~ table.runs tbody tr")
    assert upcoming.count() == len(made)
    page.on("dialog", lambda dialog: dialog.accept())  # the button asks first
    page.click("#pause")
    page.wait_for_selector("#resume")
    assert "paused" in page.inner_text("#status") and "Paused" in page.inner_text(".note")
    assert page.locator("#schedule-title ~ table.runs").count() == 0
    assert _scheduled(ui) == []  # the runs it made that did not start are gone
    with ui.client("read") as client:
        assert client.get(f"/api/v1/deployments/{NAME}")["paused"] is True
    page.click("#resume")
    page.wait_for_selector("#pause")
    assert "active" in page.inner_text("#status")
    with ui.client("read") as client:
        assert client.get(f"/api/v1/deployments/{NAME}")["paused"] is False
    schedule(ui.engine, horizon=4 * 3600)
    page.reload()
    assert page.locator("#schedule-title ~ table.runs tbody tr").count() >= 3
    page.context.close()


def test_a_read_key_sees_no_form_and_may_not_post(ui, browser, deployed):
    page = ui.login(browser, "read", f"/deployments/{NAME}")
    assert page.locator("form.run-form").count() == 0 and page.locator("#pause").count() == 0
    assert "every 1 h" in page.inner_text("#schedule")
    csrf = page.get_attribute("header input[name=csrf]", "value")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    for action, data in (("run", {"p.n": "1", "p.target": "1"}), ("pause", {}), ("resume", {})):
        answer = httpx.post(timeout=60, url=f"{ui.url}/deployments/{NAME}/{action}", data={"csrf": csrf, **data},
                            cookies=cookies)
        assert answer.status_code == 403, action
    assert _scheduled(ui) == []
    with ui.client("read") as client:
        assert client.get(f"/api/v1/deployments/{NAME}")["paused"] is False
    assert httpx.get(timeout=60, url=f"{ui.url}/deployments/nope", cookies=cookies).status_code == 404
    page.context.close()


def test_the_deployments_and_flows_lists(ui, browser, deployed):
    now = datetime.datetime.now().timestamp()
    write_sample(ui.engine, flow_name="typed", state="Failed", started_at=now - 60)
    write_sample(ui.engine, flow_name="other <flow>", state="Success", started_at=now - 30 * 86400)
    page = ui.login(browser, "read", "/deployments")
    row = page.locator(f"tr[data-deployment='{NAME}']")
    assert "every 1 h" in row.inner_text() and "active" in row.inner_text() and "etl" in row.inner_text()
    page.goto(ui.url + "/flows")
    typed = page.locator("tr[data-flow='typed']")
    assert "Failed" in typed.locator("td").nth(1).inner_text()
    assert "Failed 1" in typed.locator("td.week").inner_text()  # the run of a minute ago, in the last 7 days
    assert NAME in typed.locator("td").nth(3).inner_text()
    other = page.locator("tr[data-flow='other <flow>']")
    assert "none" in other.locator("td.week").inner_text()  # its run is older than 7 days
    assert "Success" in other.locator("td").nth(1).inner_text()
    shoot(page, "flows")
    typed.locator("td a").first.click()
    page.wait_for_url(ui.url + "/flows/typed")
    assert NAME in page.inner_text("#deployments-title ~ ul")
    assert page.locator("table.runs tbody tr").count() == 1
    assert page.locator("table.params tbody tr td").all_inner_texts() == ["n", "—", "60"]  # latest run: n=60
    page.goto(ui.url + "/flows/other%20%3Cflow%3E")
    assert page.inner_text("h1") == "other <flow>"
    page.context.close()
