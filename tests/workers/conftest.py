"""A project folder for the worker tests: ``flows.py`` holding the test module's
``FLOWS`` (where the deployments' entrypoints point and the workers run)."""

from __future__ import annotations

import pytest


@pytest.fixture
def project(request, tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "flows.py").write_text(request.module.FLOWS)
    return folder
