"""ferroflow.state_codes: every table of the core's state codes (name, State class,
finished, failed, display order) derived from the core's constants in one place, and
the engine, the run store and the CLI using those tables."""

from ferroflow import _core, state_codes, states
from ferroflow.cli import progress
from ferroflow.engine import record
from ferroflow.store import FAILED_CODES, state_name
from ferroflow.store import base as store_base

CODES = {name: getattr(_core, name) for name in (
    "PENDING", "RUNNING", "RETRYING", "PAUSED", "SUCCESS", "CACHED", "MAPPED", "SKIPPED", "FAILED",
    "TRIGGER_FAILED", "TIMED_OUT", "CANCELLED")}


def test_the_tables_follow_the_core_and_the_state_classes():
    assert state_codes.NAMES == tuple(_core.STATE_NAMES)
    assert sorted(CODES.values()) == list(range(len(_core.STATE_NAMES)))
    for constant, code in CODES.items():
        name = _core.STATE_NAMES[code]
        assert name.upper() == constant.replace("_", "")
        cls = state_codes.STATE_CLASSES[code]
        assert cls is getattr(states, name) and state_codes.CODES[name] == code
        instance = cls()
        assert (code in state_codes.FAILED_CODES) == instance.is_failed()
        assert (code in state_codes.FINISHED_CODES) == instance.is_finished()
        assert (name in state_codes.FAILED_NAMES) == instance.is_failed()
        assert (name in state_codes.FINISHED_NAMES) == instance.is_finished()
    assert sorted(state_codes.DISPLAY_ORDER) == sorted(_core.STATE_NAMES)
    assert state_codes.DISPLAY_ORDER[:4] == ("Pending", "Paused", "Running", "Retrying")


def test_the_engine_the_store_and_the_cli_use_the_one_table():
    assert record.STATE_CLASSES is state_codes.STATE_CLASSES
    assert FAILED_CODES is store_base.FAILED_CODES is state_codes.FAILED_CODES
    assert state_name is state_codes.state_name
    assert progress.STATE_NAMES is state_codes.DISPLAY_ORDER
    assert progress.FINISHED_STATES is state_codes.FINISHED_NAMES


def test_state_name():
    assert state_name(_core.TIMED_OUT) == "TimedOut"
    assert state_name(None) is None
    assert state_name(len(_core.STATE_NAMES)) == f"Unknown({len(_core.STATE_NAMES)})"
    assert state_name(-1) == "Unknown(-1)"
