"""A server applies batches that remote clients recorded (``SQLRunStore.ingest``): in
one transaction each, idempotent by batch id, lease-checked per run, and correct when
several store objects (replicas of a server) apply batches of one run in turn."""

from __future__ import annotations

import threading
import time

import pytest

from ferroflow import _core
from ferroflow.store import SQLRunStore, StateStoreError, items
from tests.support.databases import execute, query

S, F, M = _core.SUCCESS, _core.FAILED, _core.MAPPED
TASKS = [(0, "numbers", "numbers-1", False), (1, "work", "work-1", True)]
TOKEN = "a" * 32


def start(run_id="r1", token=TOKEN, **kwargs):
    return items.start(run_id, "remote flow", {"n": 3}, TASKS, 100.0, pid=4242, token=token, hostname="client",
                       **kwargs)


def children(first, codes, run_id="r1", details=None):
    return items.report(run_id, [(1, range(first, first + len(codes)), bytes(codes))], details)


@pytest.fixture
def server(database_url):
    store = SQLRunStore(database_url)
    yield store
    store.close()


def test_a_run_recorded_elsewhere_is_applied_batch_by_batch(server):
    answer = server.ingest("b1", [start(), items.report("r1", [(0, None, S)], plain=True)], {})
    assert answer == {"duplicate": False, "lost": {}, "refused": {}, "cancelling": []}
    run = server.get_run("r1")
    assert (run.state, run.flow_name, run.hostname, run.pid, run.parameters) == (
        "Running", "remote flow", "client", 4242, {"n": 3})
    assert server.recorded_parameters("r1")["n"][0] is not None
    server.ingest("b2", [items.width("r1", 1, 4), children(0, [S, F, S, S], details={(1, 1): ("boom", None, 1,
                                                                                           "Traceback: boom")}),
                         items.logs("r1", [(1, 1, 5.0, "ERROR", "x", "child one failed")])], {"r1": TOKEN})
    server.ingest("b3", [items.report("r1", [(1, None, M)], {(1, -1): ("Ready to proceed with mapping.", None, 1)}),
                         items.end("r1", "Failed", "Some reference tasks failed.", 200.0)], {"r1": TOKEN})
    numbers, work = server.task_states("r1")
    assert (numbers.state, numbers.message) == ("Success", "Task run succeeded.")
    assert (work.state, work.width, work.counts) == ("Mapped", 4, {"Success": 3, "Failed": 1})
    assert [(c.map_index, c.message, c.traceback) for c in work.failed_children] == [(1, "boom", "Traceback: boom")]
    assert [line.message for line in server.logs("r1")] == ["child one failed"]
    run = server.get_run("r1")
    assert (run.state, run.ended_at) == ("Failed", 200.0)
    assert query(server.url, "SELECT owner FROM runs WHERE run_id = 'r1'") == [(None,)]  # ended: no lease


def test_a_batch_sent_twice_is_applied_once(server):
    server.ingest("b1", [start()], {})
    batch = [children(0, [S, F, S]), items.logs("r1", [(1, 1, 5.0, "INFO", "x", "once")])]
    assert server.ingest("b2", batch, {"r1": TOKEN})["duplicate"] is False
    assert server.ingest("b2", batch, {"r1": TOKEN}) == {"duplicate": True, "lost": {}, "refused": {}, "cancelling": []}
    assert server.ingest("b1", [start()], {}) == {"duplicate": True, "lost": {}, "refused": {}, "cancelling": []}
    (_, work) = server.task_states("r1")
    assert work.counts == {"Success": 2, "Failed": 1}  # not counted twice
    assert [line.message for line in server.logs("r1")] == ["once"]
    assert query(server.url, "SELECT count(*) FROM ingest_batches") == [(2,)]
    assert server.forget_batches(time.time() + 1) == 2


def test_a_run_whose_lease_was_lost_gets_nothing_written(server):
    server.ingest("b1", [start(), children(0, [S, S])], {})
    execute(server.url, "UPDATE runs SET state = 'Crashed', message = 'No heartbeat', owner = NULL "
                        "WHERE run_id = 'r1'")  # reaped meanwhile
    answer = server.ingest("b2", [children(2, [F]), items.end("r1", "Success")], {"r1": TOKEN})
    assert answer["duplicate"] is False and answer["refused"] == {}
    lost = answer["lost"]["r1"]
    assert (lost["state"], lost["message"], lost["resumed_by"]) == ("Crashed", "No heartbeat", None)
    assert "run r1 was marked Crashed by another process" in lost["error"]
    assert server.get_run("r1").state == "Crashed"
    assert server.task_states("r1")[1].counts == {"Success": 2}  # the batch wrote nothing
    # Another run's records in the same batch are written.
    answer = server.ingest("b3", [start("r2", "b" * 32), children(0, [S], "r2"), children(5, [F], "r1")],
                           {"r1": TOKEN})
    assert set(answer["lost"]) == {"r1"}
    assert server.task_states("r2")[1].counts == {"Success": 1}


def test_a_batch_stamps_the_heartbeat_of_the_runs_it_holds(server):
    server.ingest("b1", [start()], {})
    execute(server.url, "UPDATE runs SET heartbeat_at = 1.0 WHERE run_id = 'r1'")
    before = time.time()
    assert server.ingest("beat-1", [], {"r1": TOKEN})["lost"] == {}  # an empty batch: a heartbeat
    ((beat,),) = query(server.url, "SELECT heartbeat_at FROM runs WHERE run_id = 'r1'")
    assert beat >= before
    # The server's own writer does not heartbeat a remote run.
    assert server._writer is None or "r1" not in server._writer.owned
    assert server.ingest("beat-2", [], {"r1": "not the token"})["lost"]["r1"]["state"] == "Running"


def test_two_replicas_apply_batches_of_one_run_in_turn(database_url):
    one, two = SQLRunStore(database_url), SQLRunStore(database_url)
    try:
        one.ingest("b0", [start()], {})
        expected = {"Success": 0, "Failed": 0}
        for k in range(6):
            replica = (one, two)[k % 2]
            codes = [S, F, S]
            if k == 3:  # children reported before change their code: the counts move
                replica.ingest("b-retry", [items.report("r1", [(1, [1], bytes([S]))])], {"r1": TOKEN})
                expected["Success"] += 1
                expected["Failed"] -= 1
            replica.ingest(f"b{k + 1}", [children(10 * k, codes)], {"r1": TOKEN})
            expected["Success"] += 2
            expected["Failed"] += 1
            # Each replica reads what the other wrote: no process-local cache is trusted.
            assert one.task_states("r1")[1].counts == two.task_states("r1")[1].counts == expected
        # Children reported again by the other replica with the same codes change nothing.
        two.ingest("b-again", [children(0, [S, S, S])], {"r1": TOKEN})
        assert one.task_states("r1")[1].counts == expected
        assert [c.map_index for c in one.task_states("r1")[1].failed_children] == [11, 21, 31, 41, 51]
    finally:
        one.close()
        two.close()


def test_replicas_applying_batches_of_one_run_at_once_lose_nothing(database_url):
    replicas = [SQLRunStore(database_url) for _ in range(2)]
    try:
        replicas[0].ingest("b0", [start()], {})
        errors = []

        def send(r):
            try:
                for k in range(10):
                    first = (r * 10 + k) * 5
                    replicas[r].ingest(f"b-{r}-{k}", [children(first, [S, S, S, S, F])], {"r1": TOKEN})
            except Exception as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=send, args=(r,)) for r in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert errors == []
        assert replicas[0].task_states("r1")[1].counts == {"Success": 80, "Failed": 20}
    finally:
        for store in replicas:
            store.close()


def test_a_resume_is_refused_while_the_earlier_run_runs(server):
    server.ingest("b1", [start()], {})
    answer = server.ingest("b2", [start("r2", "b" * 32, resumed_from="r1")], {})
    assert "run r1 is still running (pid 4242 on client)" in answer["refused"]["r2"]
    assert server.get_run("r2") is None
    server.ingest("b3", [items.end("r1", "Failed")], {"r1": TOKEN})
    assert server.ingest("b4", [start("r2", "b" * 32, resumed_from="r1")], {})["refused"] == {}
    assert server.get_run("r2").resumed_from == "r1"


def test_a_batch_wrong_in_itself_applies_nothing(server):
    server.ingest("b1", [start()], {})
    with pytest.raises(StateStoreError, match="invalid record: .*1 codes for 3 children"):
        server.ingest("bad", [children(0, [S, S]), items.report("r1", [(1, range(3), bytes([S]))])], {"r1": TOKEN})
    with pytest.raises(StateStoreError, match="no lease: .*run 'r1' without its lease token"):
        server.ingest("bad", [children(0, [S])], {})
    # A run the database does not have (deleted?) is lost to its client.
    assert server.ingest("b2", [children(0, [S], "ghost")], {"ghost": TOKEN})["lost"]["ghost"]["state"] is None
    with pytest.raises(StateStoreError, match="invalid record: .*not a record"):
        server.ingest("bad", [("beat",)], {})
    assert server.task_states("r1")[1].counts == {}
    assert server.ingest("bad", [children(0, [S])], {"r1": TOKEN})["duplicate"] is False  # never marked seen


def test_a_cancelling_run_is_named_in_answers_and_keeps_its_lease_to_end_cancelled(server):
    from ferroflow.store import control

    server.ingest("b1", [start(), children(0, [S, S])], {})
    assert server.ingest("b2", [], {"r1": TOKEN})["cancelling"] == []
    assert control.cancel_run(server.engine, "r1").state == "Cancelling"
    # A heartbeat (no records) learns it; so does a batch of records, which is applied.
    assert server.ingest("b3", [], {"r1": TOKEN})["cancelling"] == ["r1"]
    answer = server.ingest("b4", [children(2, [S])], {"r1": TOKEN})
    assert answer == {"duplicate": False, "lost": {}, "refused": {}, "cancelling": ["r1"]}
    assert server.ingest("b4", [children(2, [S])], {"r1": TOKEN})["cancelling"] == ["r1"]  # (sent again)
    # Another token (a process that lost the lease) is not told: it is told it lost the run.
    other = server.ingest("b5", [], {"r1": "b" * 32})
    assert other["cancelling"] == [] and set(other["lost"]) == {"r1"}
    # The run's end is taken from its lease holder, and ends the cancel.
    answer = server.ingest("b6", [children(3, [_core.CANCELLED]), items.end("r1", "Cancelled", "stopped")],
                           {"r1": TOKEN})
    assert answer == {"duplicate": False, "lost": {}, "refused": {}, "cancelling": []}
    run = server.get_run("r1")
    assert (run.state, run.message) == ("Cancelled", "stopped")
    (work,) = [t for t in server.task_states("r1") if t.name == "work"]
    assert dict(work.counts) == {"Success": 3, "Cancelled": 1}
