"""`tokenpnl-dbt`: the dbt executable Dagster starts, made to die with the run that started it.

The writer lock (tokenpnl/lock.py) belongs to the `tokenpnl` process. If only that process is
killed (the OOM killer, `kill -9 PID`, systemd KillMode=process), an orphaned dbt would go on
writing the build database while the lock is already free for the next run. On Linux the kernel
kills this process when its parent dies (PR_SET_PDEATHSIG survives exec); elsewhere it is
plain dbt.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from pathlib import Path

PR_SET_PDEATHSIG = 1


def main() -> None:
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0 and os.getppid() != parent:
            os._exit(137)  # the parent died before prctl took effect
    dbt = Path(sys.executable).with_name("dbt")
    os.execv(dbt, [str(dbt), *sys.argv[1:]])


if __name__ == "__main__":
    main()
