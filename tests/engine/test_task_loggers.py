"""Task loggers: ``get_logger(name)`` is configured like a ``logging.Logger`` and is the
logger the task of that name logs with (``context.logger``, ``Task.logger``), as
Prefect 1's ``get_logger(name)`` is ``prefect.<name>``; mapped children share their
task's logger; the records stay kept with the run."""

from __future__ import annotations

import logging
import pickle

import cloudpickle
import pytest

from ferroflow import Flow, Task, context, get_logger, task
from ferroflow.cli import main as cli_main
from ferroflow.store import HOME_ENV, RECORD_ENV


class Keep(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def keep():
    """A handler to attach; removed from every task logger afterwards."""
    handler = Keep()
    yield handler
    for name in list(logging.Logger.manager.loggerDict):
        if name.startswith("ferroflow.task"):
            logging.getLogger(name).removeHandler(handler)


def test_get_logger_is_configured_like_a_logger(keep):
    logger = get_logger("configured")
    assert logger is get_logger("configured")
    assert logger.name == "ferroflow.task.configured"
    assert logger.logger is logging.getLogger("ferroflow.task.configured")
    logger.addHandler(keep)
    assert logger.handlers == [keep] and logging.getLogger("ferroflow.task.configured").handlers == [keep]
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        assert logging.getLogger("ferroflow.task.configured").level == logging.DEBUG == logger.level
        assert logging.getLogger("ferroflow.task.configured").propagate is False
        logger.debug("outside a run")
        assert [r.getMessage() for r in keep.records] == ["outside a run"]
    finally:
        logger.setLevel(logging.NOTSET)
        logger.propagate = True
    logger.removeHandler(keep)
    assert logger.handlers == []
    assert get_logger().name == "ferroflow.task"


def test_a_handler_on_the_tasks_logger_sees_what_the_task_logs(keep):
    # Prefect 1.4.1 (real flow docs_custom_logs, with a task named "Task B"): a handler
    # added to get_logger(task name) gets the task's INFO record, not its DEBUG one.
    get_logger("Task Y").addHandler(keep)

    @task(name="Task Y")
    def task_b(x):
        logger = context.get("logger")
        assert logger is get_logger("Task Y")
        logger.debug("Beginning to run Task Y with input %s", x)
        logger.info("Returning the value %s", 3 * x + 1)
        return 3 * x + 1

    @task(name="Task A")
    def task_a():
        context.logger.info("not Task B's")
        return 3

    with Flow("logging-example") as flow:
        task_b(task_a)
    state = flow.run(record=False)
    assert state.is_successful()
    assert [(r.name, r.levelname, r.getMessage()) for r in keep.records] == [
        ("ferroflow.task.Task Y", "INFO", "Returning the value 10")]
    record = keep.records[0]
    assert (record.flow_name, record.task_name, record.task_slug, record.task_full_name, record.map_index) == (
        "logging-example", "Task Y", "Task Y-1", "Task Y", None)


def test_mapped_children_share_their_tasks_logger(keep):
    seen = []

    @task
    def work(x):
        seen.append(context.logger)
        context.logger.info("child %s", x)
        return x

    with Flow("shared") as flow:
        work.map(list(range(500)))
    before = {n for n in logging.Logger.manager.loggerDict if n.startswith("ferroflow.task")}
    get_logger("work").addHandler(keep)
    state = flow.run(record=False)
    assert state.is_successful()
    after = {n for n in logging.Logger.manager.loggerDict if n.startswith("ferroflow.task")}
    assert after - before <= {"ferroflow.task.work"}  # no logger per child
    assert len({id(logger) for logger in seen}) == 1 and seen[0] is get_logger("work")
    assert [(r.task_full_name, r.map_index) for r in keep.records[:2]] == [("work[0]", 0), ("work[1]", 1)]
    assert len(keep.records) == 500


def test_a_task_subclass_logs_with_self_logger(keep):
    class Load(Task):
        def run(self):
            assert self.logger is context.logger
            self.logger.info("loaded %d rows", 3)
            return 3

    get_logger("load").addHandler(keep)
    with Flow("subclass") as flow:
        loaded = Load(name="load")()
    state = flow.run(record=False)
    assert [r.getMessage() for r in keep.records] == ["loaded 3 rows"]
    assert [(e.logger, e.message) for e in state.result[loaded].logs] == [("ferroflow.task.load", "loaded 3 rows")]


def test_prints_go_to_the_tasks_logger(keep):
    @task(log_stdout=True)
    def chatty(x):
        print("hello", x)
        return x

    get_logger("chatty").addHandler(keep)
    with Flow("prints") as flow:
        out = chatty.map([1, 2])
    state = flow.run(record=False)
    assert [r.getMessage() for r in keep.records] == ["hello 1", "hello 2"]
    assert [e.logger for e in state.result[out].map_states[1].logs] == ["ferroflow.task.chatty"]


def test_task_loggers_pickle_as_themselves():
    logger = get_logger("pickled")
    assert pickle.loads(pickle.dumps(logger)) is logger
    assert cloudpickle.loads(cloudpickle.dumps(logger)) is logger


def test_the_run_keeps_and_shows_the_records(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    monkeypatch.delenv(RECORD_ENV, raising=False)

    @task
    def check(x):
        context.logger.warning("item %s looks odd", x)
        return x

    with Flow("kept") as flow:
        check.map([1, 2])
    state = flow.run()
    capsys.readouterr()
    assert cli_main(["logs", state.flow_run_id, "--task", "check", "--map-index", "1"]) == 0
    assert "ferroflow.task.check: item 2 looks odd" in capsys.readouterr().out
