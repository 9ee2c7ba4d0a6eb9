"""A mapped task's page (children counted by state, filtered, paged) and a child's page
(traceback, logs), in a real browser on a real server holding the sample run."""

from __future__ import annotations

import uuid
from collections import Counter

import httpx

from ferroflow import _core
from ferroflow.state_codes import NAMES
from ferroflow.testing.records import NOT_REPORTED, TaskRecord, write_run
from tests.support.browser import shoot
from tests.support.server_data import write_sample


def _failed(sample) -> list[int]:
    return [i for i, code in enumerate(sample.children) if code == _core.FAILED]


def _indices(page) -> list[int]:
    return [int(t) for t in page.locator("table.children tbody tr td:first-child").all_inner_texts()]


def test_task_page_counts_children_by_state_and_filters_them(ui, browser):
    sample = write_sample(ui.engine)
    page = ui.login(browser, "read", f"/runs/{sample.run_id}/tasks/1")
    assert page.inner_text("h1").startswith("work")
    expected = Counter(NAMES[c] for c in sample.children if c != NOT_REPORTED)
    shown = {row.get_attribute("data-state"): int(row.locator("td.num").inner_text())
             for row in page.locator("table.counts tbody tr").all()}
    assert shown == {**expected, "": sample.children.count(NOT_REPORTED)}
    # the bar: one rectangle per state and one for the children not reported, widths in proportion
    rects = page.locator("svg.state-bar rect")
    assert rects.count() == len(expected) + 1
    widths = {r.get_attribute("class"): float(r.get_attribute("width")) for r in rects.all()}
    assert abs(widths["st-failed"] - 1000 * expected["Failed"] / 60) < 0.01
    assert sum(widths.values()) == 1000.0 or abs(sum(widths.values()) - 1000) < 0.01
    # every child that reported, in index order (the 3 never reported are not listed)
    assert _indices(page) == [i for i, c in enumerate(sample.children) if c != NOT_REPORTED][:50]
    shoot(page, "children")
    # the failed children quick filter
    page.click("#failed-filter")
    page.wait_for_selector("table.children")
    assert _indices(page) == _failed(sample)
    assert set(page.locator("table.children tbody td:nth-child(2)").all_inner_texts()) == {"Failed"}
    # filter by several states with the form: Paused and Failed
    page.goto(ui.url + f"/runs/{sample.run_id}/tasks/1")
    page.check("input[name=state][value=Paused]")
    page.check("input[name=state][value=Failed]")
    page.click("form.filters button[type=submit] >> nth=0")
    page.wait_for_url("**state=Paused*")
    assert _indices(page) == sorted(_failed(sample) + [50])
    # from an index on
    page.goto(ui.url + f"/runs/{sample.run_id}/tasks/1?from=40")
    assert _indices(page)[0] == 40 and _indices(page)[-1] == 59
    # jump to one index
    page.fill("input[name=index]", "5")
    page.click("form.filters:has(input[name=index]) button")
    page.wait_for_url("**/tasks/1/children/5")
    assert "kept" in page.inner_text(".child-message")
    assert "file:///results/5" in page.inner_text("dl.facts")
    page.context.close()


def test_paging_with_the_cursor_goes_through_every_failed_child(ui, browser):
    sample = write_sample(ui.engine)
    url = f"/runs/{sample.run_id}/tasks/1?state=Failed&limit=4"
    page = ui.login(browser, "read", f"/runs/{sample.run_id}/tasks/1")
    page.goto(ui.url + url)
    seen, pages = [], 0
    while True:
        pages += 1
        seen += _indices(page)
        more = page.locator("a[rel=next]")
        if more.count() == 0:
            break
        more.click()
        page.wait_for_load_state()
    assert seen == _failed(sample)
    assert pages == -(-len(_failed(sample)) // 4)
    page.context.close()


def test_a_child_page_shows_its_traceback_and_logs_and_404s_past_the_width(ui, browser):
    sample = write_sample(ui.engine)
    base = f"/runs/{sample.run_id}/tasks/1"
    page = ui.login(browser, "read", base + "/children/7")
    assert "Failed" in page.inner_text("h1")
    assert "ValueError: 7" in page.inner_text("pre.traceback")
    assert "child 7 failed: ValueError" in page.inner_text("table.logs")
    href = page.get_attribute("#logs-title a.more", "href")
    assert href.startswith(f"/runs/{sample.run_id}/logs?") and "map_index=7" in href
    shoot(page, "child")
    # a child that never reported, and indices the task does not have
    page.goto(ui.url + base + "/children/11")
    assert "Not reported yet" in page.inner_text("#not-reported")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    for path in (base + "/children/60", base + "/children/-1", base + "/children/x",
                 f"/runs/{sample.run_id}/tasks/9", f"/runs/{uuid.uuid4().hex}/tasks/1",
                 f"/runs/{sample.run_id}/tasks/0/children/0"):
        answer = httpx.get(timeout=60, url=ui.url + path, cookies=cookies)
        assert answer.status_code == 404, path
        assert "<h1>404</h1>" in answer.text
    assert httpx.get(timeout=60, url=ui.url + base + "?state=Nope", cookies=cookies).status_code == 400
    page.context.close()


def test_messages_and_tracebacks_are_escaped(ui, browser):
    run_id = uuid.uuid4().hex
    nasty = "<script>document.title='pwned'</script><b>bold</b>"
    with ui.engine.begin() as conn:
        write_run(conn, run_id, "nasty", state="Failed", parameters={}, started_at=1_800_000_000.0,
                  ended_at=1_800_000_001.0, log_rows=[(0, 1, 1_800_000_000.5, 40, "ERROR", "x", nasty)], tasks=[
                      TaskRecord(0, "work", "work", mapped=True, code=_core.MAPPED,
                                 children=bytes([_core.SUCCESS, _core.FAILED]),
                                 details={1: (nasty, nasty, 1, nasty)})])
    page = ui.login(browser, "read", f"/runs/{run_id}/tasks/0")
    assert nasty[:60] in page.inner_text("table.children")  # shown as text
    page.goto(ui.url + f"/runs/{run_id}/tasks/0/children/1")
    assert page.inner_text("pre.traceback") == nasty
    assert nasty in page.inner_text("table.logs")
    assert page.locator("main b").count() == 0 and page.title() != "pwned"
    page.context.close()
