"""A fresh, unrecorded ferroflow home for a block: what the ferroflow side of the compat
scenarios runs in, so a cache or a result of one scenario never reaches another."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator


@contextlib.contextmanager
def fresh_home(prefix: str) -> Iterator[None]:
    """``FERROFLOW_HOME`` a new temporary directory and ``FERROFLOW_RECORD=0`` within
    the block; both as they were after it."""
    saved = {k: os.environ.get(k) for k in ("FERROFLOW_HOME", "FERROFLOW_RECORD")}
    with tempfile.TemporaryDirectory(prefix=prefix) as home:
        os.environ.update(FERROFLOW_HOME=home, FERROFLOW_RECORD="0")
        try:
            yield
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
