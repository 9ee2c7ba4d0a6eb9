"""Every test records its flow runs into a run store of its own session, never into
the user's ``~/.ferroflow``."""

import pytest


@pytest.fixture(autouse=True, scope="session")
def _ferroflow_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("ferroflow-home")
    patch = pytest.MonkeyPatch()
    patch.setenv("FERROFLOW_HOME", str(home))
    yield home
    patch.undo()
