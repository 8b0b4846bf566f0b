"""One writer at a time: an advisory lock beside the warehouse, held for a whole run.

DuckDB lets one process write a database file; two nightly runs on the same warehouse would
fail halfway through. The lock makes the second one stop at once with a clear message. It is
an flock on an open file, so the kernel releases it when the process ends, however it ends
(kill -9 included): a crashed run never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class WarehouseBusy(RuntimeError):
    """Another process is running the job on the same warehouse."""


@contextmanager
def writer_lock(warehouse: Path) -> Iterator[None]:
    path = warehouse.with_name(warehouse.name + ".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)  # not inherited by child processes (PEP 446)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise WarehouseBusy(
                f"another tokenpnl run (pid {holder}) is writing {warehouse}; wait for it to finish and try again"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock
