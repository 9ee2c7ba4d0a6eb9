"""The runs list, a run's page (live while the run goes on) and its actions, in a real
browser against a real server: runs written in the store's layout (``write_sample``)
and runs made by a real worker."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from ferroflow import _core
from ferroflow.store import control, queries
from ferroflow.store.deployments import deploy as deploy_in_store
from ferroflow.testing.records import TaskRecord, write_run
from tests.support.browser import shoot
from tests.support.server_data import write_sample
from tests.support.servers import wait_for
from tests.support.workers import WorkerProcess, deploy, run_deployment, wait_ended

FLOWS = """
import os, time
from ferroflow import Flow, Parameter, task
from ferroflow.results import Result

@task
def prepare(seconds):
    return seconds

@task
def nap(seconds):
    time.sleep(seconds)
    return seconds

@task
def square(i):
    return i * i

with Flow("nap") as nap_flow:
    s = prepare(Parameter("seconds"))
    nap(s)
    square.map(list(range(20)))

@task
def count(out):
    with open(out, "a") as f:
        f.write("counted\\n")
    return out

@task
def fail_once(out):
    marker = out + ".failed"
    if not os.path.exists(marker):
        open(marker, "w").close()
        raise RuntimeError("first time unlucky")
    return "second time lucky"

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")

with Flow("flaky", result=Result(base=RESULTS)) as flaky_flow:
    fail_once(count(Parameter("out")))

from ferroflow import flow


@task
def first():
    return 1


@task
def second(x):
    return x + 1


@flow(name="grow")
def grow(pause: float = 4.0):
    x = first()
    time.sleep(pause)
    x = second(x)
    time.sleep(pause)
    return square(x)
"""


@contextmanager
def session(ui, role: str) -> Iterator[httpx.Client]:
    """An HTTP client logged in to the UI with ``role``'s key."""
    with httpx.Client(timeout=60, base_url=ui.url, follow_redirects=True) as http:
        token = re.search(r'name="csrf" value="([^"]+)"', http.get("/login").text).group(1)
        logged_in = http.post("/login", data={"csrf": token, "key": ui.keys[role]}, follow_redirects=False)
        assert logged_in.status_code == 303
        yield http


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def legend(row) -> dict[str, int]:
    """A children bar's legend (in ``row``) as state -> count."""
    return {name: int(n.replace(",", "")) for name, n in
            re.findall(r"([A-Za-z][A-Za-z ]*?) ([\d,]+)", row.locator(".legend").inner_text())}


def ids_listed(html: str) -> list[str]:
    return re.findall(r'<a class="id" href="/runs/([0-9a-f]{32})"', html)


# ----- the runs list -----------------------------------------------------------------


@pytest.fixture
def many(ui):
    """120 runs: flows a/b, states Success/Failed/Crashed, one a minute from a day's
    start; tags even/odd."""
    start = 1_800_000_000.0  # 2027-01-15 08:00 UTC
    made = []
    for i in range(120):
        state = ("Success", "Failed", "Crashed")[i % 3]
        made.append(write_sample(ui.engine, flow_name="ab"[i % 2], state=state, started_at=start + 60 * i,
                                 tags=("even" if i % 2 == 0 else "odd",)).run_id)
    return made


def test_runs_list_pages_and_filters(ui, many, browser):
    with session(ui, "read") as http:
        first = http.get("/runs").text
        listed = ids_listed(first)
        assert listed == many[::-1][:50]  # newest first
        pages = [listed]
        html = first
        while (found := re.search(r'<a href="([^"]+)" rel="next">', html)) is not None:
            html = http.get(found.group(1).replace("&amp;", "&")).text
            pages.append(ids_listed(html))
        assert [len(p) for p in pages] == [50, 50, 20]
        assert sum(pages, []) == many[::-1]

        # several states, a flow, a tag: the next page keeps them
        html = http.get("/runs", params=[("state", "Failed"), ("state", "Crashed"), ("flow", "a")]).text
        want = [r for i, r in enumerate(many) if i % 3 != 0 and i % 2 == 0][::-1]
        got = ids_listed(html)
        nxt = re.search(r'<a href="([^"]+)" rel="next">', html)
        while nxt is not None:
            assert "state=Failed" in nxt.group(1) and "flow=a" in nxt.group(1)
            html = http.get(nxt.group(1).replace("&amp;", "&")).text
            got += ids_listed(html)
            nxt = re.search(r'<a href="([^"]+)" rel="next">', html)
        assert got == want and len(want) == 40
        assert ids_listed(http.get("/runs?tag=odd&state=Success").text) == \
            [r for i, r in enumerate(many) if i % 2 == 1 and i % 3 == 0][::-1]
        assert ids_listed(http.get(f"/runs?id={many[7][:10]}").text) == [many[7]]
        # started on or after / on or before a day (UTC): all 120 are on 2027-01-15
        assert len(ids_listed(http.get("/runs?after=2027-01-15&before=2027-01-15").text)) == 50
        assert ids_listed(http.get("/runs?after=2027-01-16").text) == []
        assert ids_listed(http.get("/runs?before=2027-01-14").text) == []
        # nonsense: a message and the page, not an error
        bad = http.get("/runs", params={"state": "Bogus", "after": "yesterday", "id": "xyz!", "cursor": "nope"})
        assert bad.status_code == 200
        for said in ("unknown state &#39;Bogus&#39;", "&#39;yesterday&#39; is not a date",
                     "is not the start of a run id", "page link is out of date"):
            assert said in bad.text, said
        assert ids_listed(bad.text) == many[::-1][:50]

    page = ui.login(browser, "read", "/runs")
    page.check("input[name=state][value=Crashed]")
    page.fill("input[name=flow]", "b")
    page.click("form.filters button[type=submit]")
    page.wait_for_url(re.compile(r".*state=Crashed.*"))
    rows = page.locator("table.runs tbody tr")
    assert rows.count() == 20
    assert set(page.locator("table.runs tbody .state").all_inner_texts()) == {"Crashed"}
    shoot(page, "runs")
    page.locator("table.runs tbody tr a.id").first.click()
    page.wait_for_selector("#run-head")
    assert page.url.endswith(many[119]) or page.url.split("/runs/")[1] in many
    page.context.close()


# ----- a run's page ------------------------------------------------------------------


def test_run_page_shows_the_sample_run(ui, browser):
    sample = write_sample(ui.engine, tags=("nightly", "<b>tag</b>"))
    with ui.engine.connect() as conn:
        tasks = {t.name: t for t in queries.run_tasks(conn, sample.run_id)}
    page = ui.login(browser, "read", f"/runs/{sample.run_id}")
    head = page.inner_text("#run-head")
    assert sample.run_id in head and "Paused" in head and "etl" in head and "<b>tag</b>" in head
    assert page.get_attribute("#run-head a[href='/flows/etl']", "href") == "/flows/etl"
    assert page.locator("#run-head[data-live]").count() == 0  # (it ended: nothing polls)
    assert "60" in page.inner_text("dl.params")
    # the mapped task: a bar and numbers that are the store's counts, a link to its page
    row = page.locator("#task-1")
    counted = legend(row)
    expected = dict(tasks["work"].counts)
    assert {k: v for k, v in counted.items() if k != "not reported"} == expected
    assert counted["not reported"] == 60 - sum(expected.values())
    assert row.locator("svg.state-bar rect").count() == len(counted)
    assert row.locator(f"a[href='/runs/{sample.run_id}/tasks/1']").count() == 1
    assert page.inner_text("#task-2 td.message") == "deploy to production?"
    assert page.locator("form[action$='/cancel'], form[action$='/approve'], form[action$='/resume']").count() == 0
    assert "ferroflow run FILE --resume" not in page.inner_text("main")  # (a read key: nothing to do)
    shoot(page, "run")
    page.goto(ui.url + "/runs/" + "f" * 32)
    assert page.inner_text("h1") == "404" and "no run has the id" in page.inner_text("main")
    page.goto(ui.url + "/runs/" + sample.run_id[:9].upper())
    page.wait_for_url(ui.url + f"/runs/{sample.run_id}")
    page.goto(ui.url + "/runs/not-a-run")
    assert page.inner_text("h1") == "404"
    page.context.close()


def test_a_run_of_a_million_children_is_a_small_page(ui):
    """Nothing on the page is per child: a bar, the counts, a link."""
    codes = bytearray([_core.SUCCESS]) * 1_000_000
    for i in range(0, len(codes), 97):
        codes[i] = _core.FAILED
    run_id = "b" * 32
    with ui.engine.begin() as conn:
        write_run(conn, run_id, "huge", state="Failed", started_at=1.8e9, ended_at=1.8e9 + 100, tasks=[
            TaskRecord(0, "extract", "extract", code=_core.SUCCESS),
            TaskRecord(1, "work", "work", mapped=True, code=_core.MAPPED, children=bytes(codes),
                       details={i: ("boom", None, 1, "Traceback ...") for i in range(0, len(codes), 97)})])
    with session(ui, "read") as http:
        answer = http.get(f"/runs/{run_id}")
    assert answer.status_code == 200 and len(answer.content) <= 300_000
    assert "Success 989,690" in answer.text and "Failed 10,310" in answer.text
    assert "1,000,000 children" in answer.text and answer.text.count("<tr") == 3  # (a head row, two tasks)
    assert "boom" not in answer.text


def test_an_ambiguous_prefix_is_a_page_not_a_redirect(ui):
    write_sample(ui.engine, "abcdef01" + "0" * 24)
    write_sample(ui.engine, "abcdef01" + "1" * 24)
    with session(ui, "read") as http:
        answer = http.get("/runs/abcdef01")
        assert answer.status_code == 404 and "several runs" in answer.text
        assert http.get("/runs/abcdef011", follow_redirects=False).headers["location"] == \
            "/runs/abcdef01" + "1" * 24


def test_a_read_key_sees_no_actions_and_its_posts_are_refused(ui, browser):
    run, _ = control.create_run(ui.engine, "etl")
    sample = write_sample(ui.engine)
    with session(ui, "read") as http:
        html = http.get(f"/runs/{run.run_id}").text
        assert "/cancel" not in html and "/approve" not in html
        token = csrf_of(html)  # (the session's own token: the logout form carries it)
        for path, data in ((f"/runs/{run.run_id}/cancel", {}), (f"/runs/{sample.run_id}/approve", {"task": "deploy"}),
                           (f"/runs/{sample.run_id}/resume", {})):
            refused = http.post(path, data={"csrf": token, **data})
            assert refused.status_code == 403 and "role &#39;run&#39;" in refused.text, path
    with ui.engine.connect() as conn:
        assert queries.get_run(conn, run.run_id).state == "Scheduled"
        assert not any(t.approved for t in queries.run_tasks(conn, sample.run_id))
        assert queries.list_runs(conn, resumed_from=sample.run_id).items == []
    with session(ui, "run") as http:  # a run key without the token: refused too
        assert http.post(f"/runs/{run.run_id}/cancel", data={"csrf": "guess"}).status_code == 403
    page = ui.login(browser, "read", f"/runs/{sample.run_id}")
    assert page.locator("#run-head .actions, button:has-text('Approve')").count() == 0
    page.context.close()


def test_cancel_a_scheduled_run_and_a_stale_form_says_so(ui, browser):
    run, _ = control.create_run(ui.engine, "etl", scheduled_start=time.time() + 3600)
    page = ui.login(browser, "run", f"/runs/{run.run_id}")
    assert page.locator("#run-head[data-live]").count() == 1
    # the header is live: once replaced, its button still asks first (say no: nothing happens)
    page.evaluate("document.getElementById('run-head').setAttribute('data-first', '')")
    page.wait_for_selector("#run-head:not([data-first])", state="attached")
    asked: list = []
    page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    page.click("button:has-text('Cancel run')")
    assert asked == ["Cancel this run?"]
    with ui.engine.connect() as conn:
        assert queries.get_run(conn, run.run_id).state == "Scheduled"
    page.once("dialog", lambda d: d.accept())
    page.click("button:has-text('Cancel run')")
    page.wait_for_selector("p.note")
    assert page.inner_text("p.note") == "Cancelled."
    assert page.inner_text("#run-head .state") == "Cancelled"
    with ui.engine.connect() as conn:
        assert queries.get_run(conn, run.run_id).state == "Cancelled"
    # a form of the page as it was (version 0): nothing done, the note says why
    with session(ui, "run") as http:
        token = csrf_of(http.get("/").text)
        answer = http.post(f"/runs/{run.run_id}/cancel", data={"csrf": token, "version": "0"})
        assert answer.status_code == 200 and "Not cancelled" in answer.text and "Cancelled" in answer.text
    page.context.close()


def test_approve_a_paused_task(ui, browser):
    sample = write_sample(ui.engine)
    page = ui.login(browser, "run", f"/runs/{sample.run_id}")
    page.click("#task-2 button:has-text('Approve')")
    page.wait_for_selector("p.note")
    assert "Approved 'deploy'" in page.inner_text("p.note")
    assert "approved" in page.inner_text("#task-2")
    assert page.locator("#task-2 button:has-text('Approve')").count() == 0
    with ui.engine.connect() as conn:
        assert [t.name for t in queries.run_tasks(conn, sample.run_id) if t.approved] == ["deploy"]
    # a task that did not pause: refused, as a note
    with session(ui, "run") as http:
        token = csrf_of(http.get("/").text)
        answer = http.post(f"/runs/{sample.run_id}/approve", data={"csrf": token, "task": "extract"})
        assert answer.status_code == 200 and "Not approved" in answer.text
    # a run of no deployment: resuming it is a command, not a button
    assert "ferroflow run FILE --resume " + sample.run_id in page.inner_text("#run-head")
    assert page.locator("button:has-text('Resume')").count() == 0
    page.context.close()


def test_resume_a_failed_run_of_a_deployment(ui, browser):
    nightly, _ = deploy_in_store(ui.engine, "nightly", "flows.py:nap_flow")
    run, _ = control.create_run(ui.engine, "nap", {"seconds": 1}, deployment_id=nightly.id)
    control.set_state(ui.engine, run.run_id, "Running")
    control.set_state(ui.engine, run.run_id, "Failed", "it broke")
    page = ui.login(browser, "run", f"/runs/{run.run_id}")
    assert page.get_attribute("#run-head a[href='/deployments/nightly']", "href") == "/deployments/nightly"
    page.on("dialog", lambda d: d.accept())
    page.click("button:has-text('Resume from failures')")
    page.wait_for_selector("p.note")
    with ui.engine.connect() as conn:
        (made,) = queries.list_runs(conn, resumed_from=run.run_id).items
    assert made.state == "Scheduled" and f"run {made.run_id} resumes this one" in page.inner_text("p.note")
    assert page.locator(f"#run-head .resumed-by a[href='/runs/{made.run_id}']").count() == 1
    # a second click while that one has not run: refused, said so
    page.click("button:has-text('Resume from failures')")
    page.wait_for_selector("p.note:has-text('Not resumed')")
    assert "being resumed already" in page.inner_text("p.note")
    page.goto(ui.url + f"/runs/{made.run_id}")
    assert page.locator(f"#run-head a[href='/runs/{run.run_id}']").count() == 1  # what it resumes
    page.context.close()


# ----- with a real worker ----------------------------------------------------------------


@pytest.fixture
def worker(ui, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "flows.py").write_text(FLOWS)
    with ui.client("run") as client:
        deploy(client, "nap", "flows.py:nap_flow")
        deploy(client, "flaky", "flows.py:flaky_flow")
    started = WorkerProcess(ui.url, project, tmp_path / "worker.log", "default",
                            env={"FERROFLOW_API_KEY": ui.keys["run"]})
    yield started
    started.stop(timeout=30)


def _running(ui, run_id: str) -> bool:
    with ui.engine.connect() as conn:
        return queries.get_run(conn, run_id).state == "Running"


def test_the_run_page_follows_a_run_until_it_ends(ui, browser, worker):
    with ui.client("run") as client:
        run_id = run_deployment(client, "nap", seconds=4)
    page = ui.login(browser, "read", f"/runs/{run_id}")
    page.evaluate("window.__same_page = true")
    assert page.locator("#run-head[data-live]").count() == 1
    page.wait_for_selector("#run-head .state.st-running", timeout=120_000)
    page.wait_for_selector("#run-head .state.st-success", timeout=120_000)
    # the tasks part's last refresh: every task ended, and nothing polls any more
    page.wait_for_selector("#run-tasks:not([data-live])", timeout=30_000)
    assert page.evaluate("window.__same_page") is True  # (no reload)
    assert page.locator("[data-live]").count() == 0
    assert page.inner_text("#task-1 td:nth-child(2)").strip() == "Success"
    assert {"Success": 20} == legend(page.locator("#run-tasks tr", has=page.locator("svg.state-bar")))
    assert page.locator("svg.timeline g.row").count() >= 3  # (times recorded by the engine)
    # the graph, drawn once the tasks were known, colored as the task table says
    nodes = page.locator("#run-graph svg.run-graph g.node")
    assert nodes.count() == 5 and page.locator("#run-graph path.link").count() >= 3
    colors = page.evaluate("""() => Array.from(document.querySelectorAll('#run-tasks tr[data-task]')).map(row => [
        row.getAttribute('data-css'),
        document.querySelector('#run-graph g.node[data-task="' + row.getAttribute('data-task') + '"]')
          .getAttribute('class')])""")
    assert len(colors) == 5 and all(css in node.split() for css, node in colors), colors
    assert page.locator("#run-graph g.node.st-running, #run-graph g.node.st-pending").count() == 0
    # (drawn again once the run was over: the mapped task's caption is final)
    page.wait_for_selector("#run-graph text.caption:has-text('20 / 20 children')")
    shoot(page, "run-live")
    page.context.close()


def test_an_eager_runs_graph_grows_while_it_runs(ui, browser, worker):
    # An eager flow meets its tasks as its function calls them: the page draws the
    # graph again when the live task table lists a task the graph does not have.
    with ui.client("run") as client:
        deploy(client, "grow", "flows.py:grow")
        run_id = run_deployment(client, "grow", pause=4)
    page = ui.login(browser, "read", f"/runs/{run_id}")
    page.evaluate("window.__same_page = true")
    def drawn() -> tuple[int, bool]:  # (nodes in the graph, whether the run still runs)
        return page.evaluate("() => [document.querySelectorAll('#run-graph g.node').length, "
                             "!!document.querySelector('#run-head[data-live]')]")

    seen = wait_for(lambda: (state := drawn())[0] >= 2 and state, "a second task in the graph", timeout=120)
    assert seen[1], "the graph grew only once the run had ended"
    page.wait_for_selector("#run-head .state.st-success", timeout=120_000)
    wait_for(lambda: drawn()[0] == 3, "the third task in the graph", timeout=30)
    assert page.evaluate("window.__same_page") is True  # (no reload)
    page.context.close()


def test_cancel_a_running_run_from_its_page(ui, browser, worker):
    with ui.client("run") as client:
        run_id = run_deployment(client, "nap", seconds=600)
        wait_for(lambda: _running(ui, run_id), "the run to start", timeout=120)
        page = ui.login(browser, "run", f"/runs/{run_id}")
        page.on("dialog", lambda d: d.accept())
        page.click("button:has-text('Cancel run')")
        page.wait_for_selector("p.note")
        assert "Cancellation requested" in page.inner_text("p.note")
        page.evaluate("window.__same_page = true")
        page.wait_for_selector("#run-head .state.st-cancelled", timeout=120_000)  # (live: no reload)
        assert page.evaluate("window.__same_page") is True
        assert wait_ended(client, run_id, timeout=60).state == "Cancelled"
        page.wait_for_selector("#run-head:not([data-live])")
        assert page.locator("#run-head button:has-text('Cancel run')").count() == 0
    page.context.close()


def test_resume_from_failures_runs_the_failed_part_again(ui, browser, worker, tmp_path):
    out = tmp_path / "count.txt"
    with ui.client("run") as client:
        failed = run_deployment(client, "flaky", out=str(out))
        assert wait_ended(client, failed).state == "Failed"
        page = ui.login(browser, "run", f"/runs/{failed}")
        page.on("dialog", lambda d: d.accept())
        page.click("button:has-text('Resume from failures')")
        page.wait_for_selector("p.note:has-text('Resumed')")
        with ui.engine.connect() as conn:
            (resumed,) = queries.list_runs(conn, resumed_from=failed).items
        assert wait_ended(client, resumed.run_id).state == "Success"
    assert out.read_text().split() == ["counted"]  # (the task that succeeded was not run again)
    page.goto(ui.url + f"/runs/{resumed.run_id}")
    assert "Success" in page.inner_text("#run-head .state")
    assert str(out) in page.inner_text("dl.params")  # (the parameters of the run it resumed)
    page.context.close()


def test_a_task_bar_starts_when_its_upstream_ended():
    """The engine reports task runs as they end: a task's bar starts at its upstream
    tasks' last report (or the run's start), not at its own first report."""
    from ferroflow.server.ui.pages.runs import timeline
    from ferroflow.store.queries import TaskInfo

    tasks = [TaskInfo(task_id=i, name=n, slug=n, is_mapped=False, width=None, code=None, run_count=1,
                      message=None, result_location=None) for i, n in enumerate(("a", "b", "c"))]
    times = {0: [100.0, 100.5], 1: [102.0, 102.0], 2: [103.0, 103.0]}
    picture = timeline(tasks, times, 100.0, 104.0, edges=[(0, 1), (1, 2)])
    rows = {r.task_id: r for r in picture.rows}
    # b ran between a's end (+0.5 s) and its report (+2 s); c between b's and its own
    assert rows[1].x < rows[2].x and rows[1].w > rows[0].w
    assert abs((rows[2].x - rows[1].x) - (rows[1].w)) < 1.0
    unlinked = {r.task_id: r for r in timeline(tasks, times, 100.0, 104.0).rows}
    assert unlinked[1].w == 2.0  # (without edges: a sliver at its report)


def test_a_live_page_goes_on_after_a_request_that_is_never_answered(ui, browser):
    """A proxy or server that never answers one poll must not stop the page's polling
    for good: the fragment is given up after ui.js's timeout and asked for again."""
    run, _ = control.create_run(ui.engine, "etl", scheduled_start=time.time() + 3600)
    page = ui.login(browser, "read", f"/runs/{run.run_id}")
    hung: list = []
    # the first poll of the header is never answered; the next ones go through
    page.route("**/live?part=head", lambda route: hung.append(route) if not hung else route.continue_())
    page.wait_for_timeout(4000)  # (that poll is sent, and hangs)
    assert len(hung) == 1
    control.cancel_run(ui.engine, run.run_id)
    page.wait_for_selector("#run-head .state.st-cancelled", timeout=60_000)  # (after ui.js gave the hung one up)
    page.context.close()
