"""Reading what a child process wrote after a test read some of its lines."""

from __future__ import annotations

import subprocess
import threading

__all__ = ["finish"]


def finish(process: subprocess.Popen, timeout: float = 300) -> tuple[int, str, str]:
    """Wait for ``process`` (its stdout and stderr pipes opened with ``text=True``):
    ``(exit code, the rest of stdout, the rest of stderr)``.

    Read through the text streams the test read lines from: ``communicate()`` reads
    the pipes' file descriptors, and so misses what a ``readline()`` had buffered
    already (a line printed right after the one read: seen in CI)."""
    rest: dict = {}

    def read(name: str, stream: object) -> None:
        rest[name] = stream.read()  # type: ignore[attr-defined]

    readers = [threading.Thread(target=read, args=(name, stream), daemon=True)
               for name, stream in (("out", process.stdout), ("err", process.stderr))]
    for reader in readers:
        reader.start()
    process.wait(timeout=timeout)
    for reader in readers:
        reader.join(timeout=60)
    process.stdout.close()  # type: ignore[union-attr]
    process.stderr.close()  # type: ignore[union-attr]
    return process.returncode, rest.get("out", ""), rest.get("err", "")
