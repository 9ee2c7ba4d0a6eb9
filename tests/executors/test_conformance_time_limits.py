"""Every test of a conformance kit bounds its own time (no pytest-timeout needed) and
records runs into a private FERROFLOW_HOME (ferroflow.testing.kit)."""

from __future__ import annotations

import os
import threading
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

import pytest

from ferroflow.executors import Executor
from ferroflow.testing.conformance import executor_conformance
from ferroflow.testing.kit import TIME_SCALE_ENV, ConformanceKit, time_limit


class WaitingPoolExecutor(Executor):
    """Breaks the contract: shutdown() waits for the task runs still running."""

    name = "waiting-pool"

    def start(self):
        self.pool = ThreadPoolExecutor(4)
        self.running = {}

    def slots(self):
        return 4

    def submit(self, unit):
        self.running[self.pool.submit(unit.run)] = unit

    def wait(self):
        done, _ = wait(self.running, return_when=FIRST_COMPLETED)
        return [(self.running.pop(f), f.result()) for f in done]

    def shutdown(self):
        self.pool.shutdown(wait=True)


Waiting = executor_conformance(WaitingPoolExecutor, name="Waiting")
Waiting.__test__ = False  # run by hand below, not collected


@pytest.mark.parametrize("test", ["test_ctrl_c_cancels_the_run_without_hanging",
                                  "test_an_executor_error_fails_the_run_without_hanging"])
def test_a_shutdown_that_waits_fails_within_the_tests_own_limit(test, monkeypatch):
    monkeypatch.setenv(TIME_SCALE_ENV, "0.1")  # 3 s instead of 30
    with pytest.raises(pytest.fail.Exception, match="did not finish within its time limit of 3 s"):
        getattr(Waiting(), test)()


class Sleepy(ConformanceKit):
    __test__ = False
    default_time_limit = 0.2

    def test_sleeps(self):
        threading.Event().wait(30)

    @time_limit(10)
    def test_quick(self):
        return "done"


def test_a_kit_test_fails_after_its_limit_and_passes_within_it():
    with pytest.raises(pytest.fail.Exception, match="Sleepy.test_sleeps did not finish within its time limit"):
        Sleepy().test_sleeps()
    assert Sleepy().test_quick() == "done"


def test_a_kit_test_added_by_a_subclass_is_bounded_too():
    class Mine(Sleepy):
        def test_mine(self):
            threading.Event().wait(30)

    with pytest.raises(pytest.fail.Exception, match="Mine.test_mine did not finish"):
        Mine().test_mine()


class TestKitsUseAPrivateHome(ConformanceKit):
    def test_ferroflow_home_is_temporary(self):
        from ferroflow import Flow, task
        from ferroflow.store import config

        home = os.environ[config.HOME_ENV]
        assert home != os.path.expanduser("~/.ferroflow")

        @task
        def one():
            return 1

        with Flow("kit-home") as flow:
            one()
        assert flow.run().is_successful()
        assert [str(k) for k in config._STORES if home in str(k)], "the run was not recorded in the private home"


class SleepyOnMainThread(Sleepy):
    __test__ = False
    bound_on_main_thread = True


def test_a_kit_bound_on_the_main_thread_fails_after_its_limit_too():
    import signal

    before = signal.getsignal(signal.SIGALRM)
    with pytest.raises(pytest.fail.Exception, match="SleepyOnMainThread.test_sleeps did not finish"):
        SleepyOnMainThread().test_sleeps()
    assert SleepyOnMainThread().test_quick() == "done"
    assert signal.getsignal(signal.SIGALRM) == before and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
