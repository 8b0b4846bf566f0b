"""Run a command and measure it: wall time, CPU time, and the peak memory of its whole process tree.

Peak memory is the largest *sum* of resident set sizes (VmRSS, /proc/PID/statm) over the command
and all its descendants, sampled every `interval` seconds (default 0.05 s) by walking /proc
(psutil is not installed). A spike shorter than the interval can be missed, and shared pages
count once per process, so this is an estimate of what the machine must provide. CPU time is the
user + system time of the children reaped (getrusage RUSAGE_CHILDREN).
"""

from __future__ import annotations

import os
import resource
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Measured:
    cmd: list[str]
    returncode: int
    wall_s: float
    cpu_s: float
    peak_rss_bytes: int
    output_tail: str = field(repr=False, default="")

    @property
    def peak_rss_mib(self) -> float:
        return self.peak_rss_bytes / 2**20


def _children() -> dict[int, list[int]]:
    """ppid -> pids of every live process."""
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue  # exited meanwhile
        # the command name is in parentheses and may hold spaces: ppid is the 2nd field after ')'
        ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def tree_rss(root: int) -> int:
    """Sum of resident memory of `root` and all its descendants, in bytes."""
    tree, total, todo = _children(), 0, [root]
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/statm", "rb") as fh:
                total += int(fh.read().split()[1]) * PAGE
        except OSError:
            pass
        todo.extend(tree.get(pid, ()))
    return total


def run(cmd: list[str], *, env: dict | None = None, cwd: Path | None = None, timeout: float = 7200,
        interval: float = 0.05) -> Measured:
    """Run `cmd` to completion (output to a temp file, its tail kept) and measure it."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryFile() as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        peak = 0
        done = threading.Event()

        def poll() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, tree_rss(proc.pid))
                done.wait(interval)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()  # only the process we started
            code = proc.wait()
        wall = time.perf_counter() - t0
        done.set()
        poller.join()
        out.seek(0)
        tail = out.read()[-20000:].decode("utf-8", "replace")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Measured(cmd, code, wall, cpu, peak, tail)
