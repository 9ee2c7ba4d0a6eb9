"""Load on one server, at the issue's full size: 16 processes at once, each recording a
10^4-child flow through the server, plus 10^5 log lines in all; every record is
counted in the database afterwards and the server never saw "database is locked".
(``benches/server_load.py`` is the one copy of the procedure; its figures, latency
included, are in ``benches/README.md``.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_sixteen_processes_at_once_every_record_arrives(kind):
    done = subprocess.run([sys.executable, str(ROOT / "benches" / "server_load.py"), "--databases", kind, "--check"],
                          capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout + done.stderr
    line = done.stdout.strip().splitlines()[-1].split()
    assert line[0] == kind
    assert line[1:4] == ["16", "160,000", "100,000"], done.stdout
