"""The examples of this plugin's README and of the "Running on Dask" section of
docs/executors.md run as written, each page as one script (``python page.py``), the
way a user runs them: Dask's LocalCluster starts its workers with *spawn*, which
imports the script again in each worker, so the ``__main__`` guards are tested too.

README blocks whose first line is ``# not run`` are skipped (they need a scheduler or
a SLURM cluster); in docs/executors.md, ``tests/docs`` skips every Dask block (the core
test suite does not need this plugin) and this test runs those marked as run here.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

PLUGIN = Path(__file__).resolve().parents[1]
ROOT = PLUGIN.parents[1]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
RUN_HERE = "# not run: needs ferroflow-dask (run by plugins/ferroflow-dask/tests)"


def _readme_blocks() -> list[str]:
    return [b for b in BLOCK.findall((PLUGIN / "README.md").read_text()) if not b.startswith("# not run")]


def _docs_blocks() -> list[str]:
    text = (ROOT / "docs" / "executors.md").read_text()
    section = text[text.index("## Running on Dask"):]
    section = section[:section.index("\n## ", 1)]
    return [b for b in BLOCK.findall(section) if b.startswith(RUN_HERE)]


@pytest.mark.parametrize("blocks", [_readme_blocks, _docs_blocks], ids=["README", "docs-executors"])
def test_examples_run_as_a_script(blocks, tmp_path):
    code = blocks()
    assert len(code) >= 3, "the page lost its examples"
    script = tmp_path / "example.py"
    script.write_text("\n\n".join(code))
    out = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
                         timeout=240)  # a hang guard only
    assert out.returncode == 0, out.stderr[-5000:]
