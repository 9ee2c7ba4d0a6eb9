"""A run's logs page in a real browser against a real server: level, text, task and map
index filters, pages, and following the lines that come while the page is open."""

from __future__ import annotations

import html
import re
import time

from playwright.sync_api import expect
from sqlalchemy import insert

from ferroflow.store import control, queries
from ferroflow.store.schema import logs
from ferroflow.testing.records import TaskRecord, write_run
from tests.support.browser import shoot
from tests.support.server_data import write_sample
from tests.ui.test_ui_runs import session

LEVELS = ((10, "DEBUG"), (20, "INFO"), (30, "WARNING"), (40, "ERROR"))


def _chatty(ui, lines: int, state: str = "Success") -> str:
    """A run with ``lines`` log lines (line i: level LEVELS[i % 4], task ``t`` child i % 5
    for odd i, the flow's for even i)."""
    run_id = f"{lines:08x}" + "c" * 24
    start = 1_800_000_000.0
    rows = [(0 if i % 2 else None, i % 5 if i % 2 else -1, start + i * 0.01, *LEVELS[i % 4], "chatty",
             f"line {i:04d}") for i in range(lines)]
    with ui.engine.begin() as conn:
        write_run(conn, run_id, "chatty", state=state, started_at=start, ended_at=None if state == "Running" else
                  start + 10, log_rows=rows, tasks=[TaskRecord(0, "t", "t", code=None)])
    return run_id


def _messages(page_html: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(r'<td class="log-message">(.*?)</td>', page_html, re.S)]


def _next(page_html: str) -> str | None:
    found = re.search(r'<a href="([^"]+)" rel="next">', page_html)
    return html.unescape(found.group(1)) if found else None


def test_logs_pages_and_filters(ui, browser):
    chatty = _chatty(ui, 450)
    sample = write_sample(ui.engine)
    with session(ui, "read") as http:
        seen: list[str] = []
        url: str | None = f"/runs/{chatty}/logs"
        sizes = []
        while url is not None:
            answer = http.get(url).text
            sizes.append(len(_messages(answer)))
            seen += _messages(answer)
            url = _next(answer)
        assert sizes == [200, 200, 50] and seen == [f"line {i:04d}" for i in range(450)]

        # minimum level, kept by the next page's link
        answer = http.get(f"/runs/{chatty}/logs?level=ERROR").text
        assert _messages(answer) == [f"line {i:04d}" for i in range(3, 450, 4)]
        # a task and one of its children
        answer = http.get(f"/runs/{chatty}/logs", params={"task": "t", "index": "3", "level": "INFO"}).text
        assert _messages(answer) == [f"line {i:04d}" for i in range(450) if i % 2 and i % 5 == 3 and i % 4 != 0]
        # text: % and _ are themselves; case is ignored
        assert _messages(http.get(f"/runs/{sample.run_id}/logs", params={"q": "50% DONE_"}).text) == \
            ["child 3 says 50% done_now"]
        assert _messages(http.get(f"/runs/{sample.run_id}/logs", params={"q": "%"}).text) == \
            ["child 3 says 50% done_now"]
        # a message is text: escaped
        raw = http.get(f"/runs/{sample.run_id}/logs", params={"task": "deploy"}).text
        assert "deploy &lt;b&gt;paused&lt;/b&gt;" in raw and "<b>paused</b>" not in raw
        # nonsense: the page, with a message
        bad = http.get(f"/runs/{sample.run_id}/logs", params={"level": "LOUD", "task": "nope", "index": "x",
                                                              "cursor": "zz"})
        assert bad.status_code == 200
        for said in ("unknown level", "has no task named", "is not a child", "page link is out of date"):
            assert said in bad.text, said
        assert len(_messages(bad.text)) == sample.log_count
        assert http.get("/runs/" + "e" * 32 + "/logs").status_code == 404

    page = ui.login(browser, "read", f"/runs/{sample.run_id}/logs")
    assert page.locator("table.log tbody tr").count() == sample.log_count
    assert not page.is_checked("#follow")  # (the run is over)
    page.select_option("select[name=level]", "WARNING")
    page.click("form.filters button[type=submit]")
    page.wait_for_url(re.compile(r".*level=WARNING.*"))
    assert page.locator("table.log tbody td.log-message").all_inner_texts() == ["child 7 failed: ValueError",
                                                                              "work is slow"]
    page.goto(ui.url + f"/runs/{sample.run_id}/logs")
    assert "deploy <b>paused</b>" in page.locator("table.log tbody td.log-message").all_inner_texts()
    shoot(page, "logs")
    page.context.close()


def _log(ui, run_id: str, message: str, level: int = 20) -> None:
    with ui.engine.begin() as conn:
        key = queries.run_key(conn, run_id)
        conn.execute(insert(logs).values(run=key, task_id=None, map_index=-1, created_at=time.time(), level=level,
                                         levelname=dict(LEVELS)[level], logger="live", message=message))


def test_follow_appends_lines_as_they_come_and_stops_when_the_run_ended(ui, browser):
    run_id = _chatty(ui, 3, state="Running")
    page = ui.login(browser, "read", f"/runs/{run_id}/logs?level=INFO")
    assert page.is_checked("#follow")
    rows = page.locator("table.log tbody td.log-message")
    assert rows.all_inner_texts() == ["line 0001", "line 0002"]
    _log(ui, run_id, "came later")
    _log(ui, run_id, "too quiet", level=10)  # (below the filter: not shown)
    _log(ui, run_id, "x" * 5000)  # a long line wraps
    page.wait_for_selector("td.log-message:has-text('came later')")
    expect(page.locator("table.log tbody tr")).to_have_count(4, timeout=60_000)
    assert rows.all_inner_texts()[:3] == ["line 0001", "line 0002", "came later"]
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    _log(ui, run_id, "the last word")  # (recorded just before the run ended: still shown)
    control.set_state(ui.engine, run_id, "Success")
    page.wait_for_selector("#follow-status:has-text('over')")
    assert rows.all_inner_texts()[-1] == "the last word" and rows.count() == 5
    assert not page.is_checked("#follow")
    page.context.close()
