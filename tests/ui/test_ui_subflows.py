"""The run page of an eager flow's runs (issue 14), fetched as HTML over HTTP: tasks
added while the run ran are listed (and drawn as a row of nodes when the run said it
has no edges), a subflow run links to its parent run, and a run lists its subflow runs;
everything escaped."""

from __future__ import annotations

import re

from ferroflow import _core
from ferroflow.store.base import TaskList
from ferroflow.store.sql import SQLRunStore
from tests.ui.test_ui_runs import session

PARENT, CHILD, OTHER = "a1" * 16, "c1" * 16, "c2" * 16
PAYLOAD = "<script>window.__xss=1</script>"


def test_the_run_page_of_an_eager_run_with_subflow_runs(ui):
    with SQLRunStore(ui.database_url) as store:
        store.start_run(PARENT, "outer", {}, TaskList([], [], [], b"", edges=[]), 1.0)
        store.add_tasks(PARENT, [(0, "load", None, True)])
        store.add_tasks(PARENT, [(1, "save " + PAYLOAD, None, False)])
        store.record_report(PARENT, [(0, range(0, 3), bytes([_core.SUCCESS] * 3)), (0, None, _core.SUCCESS),
                                     (1, None, _core.SUCCESS)],
                            plain=True)
        store.start_run(CHILD, "inner", {}, TaskList([], [], [], b""), 2.0, parent_run_id=PARENT)
        store.add_tasks(CHILD, [(0, "leaf", None, False)])
        store.end_run(CHILD, "Success", None, 2.5)
        store.start_run(OTHER, "inner " + PAYLOAD, {}, TaskList([], [], [], b""), 3.0, parent_run_id=PARENT)
        store.end_run(OTHER, "Failed", None, 3.5)
        store.end_run(PARENT, "Success", None, 4.0)
    with session(ui, "read") as http:
        page = http.get(f"/runs/{PARENT}").text
        child = http.get(f"/runs/{CHILD}").text
        lone = http.get(f"/runs/{OTHER}").text
    # the tasks, in the order they were added, drawn without links
    assert page.index('data-task="0"') < page.index('data-task="1"')
    assert len(re.findall(r'<g class="node st-success"', page)) == 2 and '<path class="link"' not in page
    # the subflow runs, newest first, escaped
    subflows = re.search(r'<dd class="subflows">(.*?)</dd>', page, re.S).group(1)
    assert subflows.index(f'href="/runs/{OTHER}"') < subflows.index(f'href="/runs/{CHILD}"')
    assert "inner &lt;script&gt;window.__xss=1&lt;/script&gt;" in subflows and "<script>" not in subflows
    assert "Parent run" not in page
    # a subflow run names its parent, and has no subflow runs of its own
    parent = re.search(r'<dd class="parent-run">(.*?)</dd>', child, re.S).group(1)
    assert f'href="/runs/{PARENT}"' in parent and "outer" in parent
    assert 'class="subflows"' not in child and 'data-task="0"' in child
    assert "<script>window.__xss" not in page + child + lone


def test_a_parent_not_recorded_here_is_linked_by_its_id(ui):
    with SQLRunStore(ui.database_url) as store:
        store.start_run(CHILD, "inner", {}, [], 2.0, parent_run_id="f" * 32)
        store.end_run(CHILD, "Success", None, 2.5)
    with session(ui, "read") as http:
        page = http.get(f"/runs/{CHILD}").text
    parent = re.search(r'<dd class="parent-run">(.*?)</dd>', page, re.S).group(1)
    assert f'href="/runs/{"f" * 32}"' in parent and "(not recorded here)" in parent
    # (its graph: no task, no edges recorded)
    assert "No task has been recorded" in page
