"""The example launcher of docs/writing-a-launcher.md (``NiceLauncher``) passes the
launcher conformance suite: the page's first Python block is run to define it."""

from __future__ import annotations

import re
from pathlib import Path

from ferroflow.testing.launchers import LauncherConformance

PAGE = Path(__file__).resolve().parents[2] / "docs" / "writing-a-launcher.md"


def _example() -> dict:
    block = re.findall(r"^```python\n(.*?)^```", PAGE.read_text(), re.S | re.M)[0]
    namespace: dict = {"__name__": "doc_writing_a_launcher"}
    exec(compile(block, f"{PAGE.name} block 1", "exec"), namespace)
    return namespace


NiceLauncher = _example()["NiceLauncher"]


class TestNiceLauncherFromTheDocs(LauncherConformance):
    @staticmethod
    def launcher_factory():
        return NiceLauncher(7)
