"""One writer at a time: an advisory lock beside the build database, held for a whole run.

DuckDB lets one process write a database file; two nightly runs on the same warehouse would
fail halfway through. The lock makes the second one stop at once with a clear message. It is
an flock on an open file, so the kernel releases it when the process ends, however it ends
(kill -9 included): a crashed run never leaves a stale lock behind. It sits beside the build
database, not the published file, because that is what a run writes: `t.duckdb` and `t.db`
share `t.build.duckdb` and so share one lock. The dbt child dies with the run (see
tokenpnl/dbt_child.py), so a free lock also means nobody still writes the build database.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class WarehouseBusy(RuntimeError):
    """Another process is running the job on the same warehouse."""


def lock_path(build_db: Path) -> Path:
    return build_db.with_name(build_db.name + ".lock")


@contextmanager
def writer_lock(build_db: Path, warehouse: Path) -> Iterator[None]:
    path = lock_path(build_db)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)  # not inherited by child processes (PEP 446)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise WarehouseBusy(
                f"another tokenpnl run (pid {_holder(fd)}) is writing {warehouse} (build database {build_db}); "
                "wait for it to finish and try again"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def _holder(fd: int) -> str:
    # The holder writes its pid just after taking the lock: give it a moment.
    for _ in range(20):
        pid = os.pread(fd, 32, 0).decode(errors="replace").strip()
        if pid:
            return pid
        time.sleep(0.01)
    return "unknown"
