"""Fault injection: idempotency and crash safety (test plan §6 A) and orchestration (§6 E).

Real `tokenpnl` processes on real files: replays, re-dropped files, kill -9 of the process group
at random points of the nightly run, inside ingest and inside the publish step, two writers at
once, a failing blocking check, rebuilds after a corrupted build database, and BI readers
hammering the published file while a run republishes it. No mocks. Every test compares marts
with a clean run on a fresh warehouse and/or with the generator's independent truth.

Run with `-s` to see the summaries (where the kills landed, records lost, double counts).
FAULT_KILLS=N changes the number of random kills (default 20; each costs T/2 on average, T
being one clean run, so they dominate this module's run time).
"""

from __future__ import annotations

import fcntl
import gzip
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pytest

from tests.marts_compare import KEYS, differences, read_marts
from tokenpnl.demo_data import Truth, generate
from tokenpnl.lock import lock_path
from tokenpnl.publish import MARTS

pytestmark = pytest.mark.slow

TOKENPNL = str(Path(sys.executable).with_name("tokenpnl"))
HELPERS = Path(__file__).resolve().parent / "faults"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Same key for every run (pseudonyms must match across warehouses); no inherited TOKENPNL_* or
# DAGSTER_HOME setting may change what a run does, and killed runs must not land in a shared instance.
ENV = {k: v for k, v in os.environ.items() if not k.startswith("TOKENPNL_") and k != "DAGSTER_HOME"}
ENV["TOKENPNL_HMAC_KEY"] = "faults"
PUBLISHED_TABLES = {*MARTS, "publication"}
KILLS = int(os.environ.get("FAULT_KILLS", "20"))
KILL_SEED = 20261122

# The progress lines `tokenpnl run` writes on stderr (pipelines/progress.py), in job order.
STEPS = (("ingest", "ingest landing files"), ("dbt", "dbt build (models and tests)"),
         ("gx", "Great Expectations audit"), ("publish", "publish marts"))


# --------------------------------------------------------------------------- processes


def cli_args(command: str, landing: Path, warehouse: Path, as_of: date, book: Path | None) -> list[str]:
    args = [TOKENPNL, command, "--landing", str(landing), "--warehouse", str(warehouse), "--as-of", as_of.isoformat()]
    return args + (["--price-book", str(book)] if book else [])


@dataclass
class Finished:
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def text(self) -> str:
        """stderr with rich's line wrapping undone."""
        return " ".join(self.stderr.split())


def tokenpnl(command: str, landing: Path, warehouse: Path, as_of: date, book: Path | None = None,
             env: dict | None = None) -> Finished:
    t0 = time.monotonic()
    proc = subprocess.run(cli_args(command, landing, warehouse, as_of, book), capture_output=True, text=True,
                          env={**ENV, **(env or {})}, timeout=600, cwd=warehouse.parent)
    return Finished(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - t0)


class Started:
    """`tokenpnl run` in its own process group (session), output to files."""

    def __init__(self, landing: Path, warehouse: Path, as_of: date, book: Path | None, logs: Path, name: str):
        logs.mkdir(parents=True, exist_ok=True)
        self.out_path, self.err_path = logs / f"{name}.out", logs / f"{name}.err"
        self._out, self._err = open(self.out_path, "w"), open(self.err_path, "w")
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(cli_args("run", landing, warehouse, as_of, book), stdout=self._out,
                                     stderr=self._err, env=ENV, start_new_session=True, cwd=warehouse.parent)
        self.seconds: float | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")

    def wait(self, timeout: float | None = None) -> int:
        rc = self.proc.wait(timeout=timeout)
        self._close()
        return rc

    def wait_for(self, text: str, timeout: float = 300) -> bool:
        """Until `text` is on stderr (True) or the process ended without it (False)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.stderr():
                return True
            if self.proc.poll() is not None:
                return text in self.stderr()
            time.sleep(0.05)
        raise TimeoutError(f"{text!r} not seen on stderr within {timeout}s:\n{self.stderr()[-2000:]}")

    def kill_group(self) -> int:
        """SIGKILL the whole process group (tokenpnl and its dbt child); wait until none is left."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        rc = self.wait()
        survivors = live_in_group(self.proc.pid)
        assert survivors == [], f"processes of the killed run still alive: {survivors}"
        return rc

    def _close(self) -> None:
        if self.seconds is None:
            self.seconds = time.monotonic() - self.t0
        for fh in (self._out, self._err):
            if not fh.closed:
                fh.close()


def live_in_group(pgid: int, wait: float = 10.0) -> list[str]:
    """Processes of group `pgid` that are not zombies (PID 1 of a container may never reap)."""
    deadline = time.monotonic() + wait
    while True:
        live = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                text = stat.read_text()
            except OSError:
                continue
            fields = text[text.rindex(")") + 2:].split()
            if int(fields[2]) == pgid and fields[0] not in "ZX":
                live.append(f"{stat.parent.name} {text[:text.rindex(')') + 1]}")
        if not live or time.monotonic() > deadline:
            return live
        time.sleep(0.1)


def dbt_child(run: "Started", timeout: float = 180) -> int:
    """The pid of the `dbt build` process the run started (dagster-dbt runs dbt as a child)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and run.proc.poll() is None:
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                text = stat.read_text()
                cmd = (stat.parent / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if int(text[text.rindex(")") + 2:].split()[2]) == run.pid and b"build" in cmd and any(c.endswith(b"/dbt") for c in cmd):
                return int(stat.parent.name)
        time.sleep(0.05)
    raise RuntimeError(f"no dbt build child of {run.pid} appeared:\n{run.stderr()[-1500:]}")


def holds_open(pid: int, path: Path) -> bool:
    try:
        return any(os.readlink(fd) == str(path) for fd in Path(f"/proc/{pid}/fd").iterdir())
    except OSError:  # gone, or an fd closed while we looked
        return False


def phase_of(stderr: str) -> str:
    """Where a killed run was, from its progress lines."""
    if "Running the nightly job" not in stderr:
        return "startup"  # imports, writer lock, dbt manifest check, Dagster definitions
    phase = "job launch"
    for key, name in STEPS:
        if f"▸ {name}" in stderr:
            phase = key
        if f"✓ {name}" in stderr:
            phase = f"after {key}"
    return "exit" if phase == "after publish" else phase


def lock_is_free(warehouse: Path) -> bool:
    fd = os.open(lock_path(build_db(warehouse)), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- warehouses


def build_db(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.stem + ".build.duckdb")


def copy_state(src: Path, dst: Path) -> Path:
    """Copy a finished run's warehouse and build database (the state after a nightly run)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    for a, b in ((src, dst), (build_db(src), build_db(dst))):
        shutil.copy2(a, b)
        wal = a.with_name(a.name + ".wal")
        if wal.exists():
            shutil.copy2(wal, b.with_name(b.name + ".wal"))
    return dst


def canon(marts: dict[str, list[dict]], *, drop_loaded_at: bool = False) -> dict[str, list[tuple]]:
    """Every mart as sorted rows. `drop_loaded_at`: quarantine.loaded_at is the load time, which
    differs between two warehouses loaded at different times."""
    out = {}
    for mart, rows in marts.items():
        skip = {"loaded_at"} if drop_loaded_at and mart == "quarantine" else set()
        out[mart] = sorted((tuple((k, v) for k, v in r.items() if k not in skip) for r in rows), key=repr)
    return out


def mismatching(a: dict[str, list[tuple]], b: dict[str, list[tuple]]) -> list[str]:
    return [f"{m}: {len(a[m])} vs {len(b.get(m, []))} rows" + ("" if len(a[m]) != len(b.get(m, [])) else " (values differ)")
            for m in a if a[m] != b.get(m)]


def truth_problems(truth: Truth, warehouse: Path) -> list[str]:
    actual = read_marts(warehouse)
    problems = [p for mart in KEYS for p in differences(mart, truth.marts[mart], actual[mart])]
    quarantined = sorted((r["source_file"], r["line"]) for r in actual["quarantine"])
    if quarantined != sorted(truth.quarantined):
        problems.append(f"quarantine: {quarantined} != {sorted(truth.quarantined)}")
    return problems


def published_tables(warehouse: Path) -> dict[str, int]:
    """Open the published file read-only and count every table; raises if it is unreadable."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        names = [t for (t,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts' ORDER BY 1").fetchall()]
        return {t: con.execute(f"SELECT count(*) FROM marts.{t}").fetchone()[0] for t in names}
    finally:
        con.close()


def publication(warehouse: Path) -> tuple:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute("SELECT as_of, published_at, run_id FROM marts.publication").fetchone()
    finally:
        con.close()


def raw_counts(warehouse: Path) -> dict[str, int]:
    con = duckdb.connect(str(build_db(warehouse)), read_only=True)
    try:
        names = [t for (t,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'raw'").fetchall()]
        return {t: con.execute(f"SELECT count(*) FROM raw.{t}").fetchone()[0] for t in names}
    finally:
        con.close()


def manifest_stats(warehouse: Path) -> tuple[int, int, object]:
    """(manifest rows, distinct file hashes, latest loaded_at) of the build database."""
    con = duckdb.connect(str(build_db(warehouse)), read_only=True)
    try:
        return con.execute("SELECT count(*), count(DISTINCT file_hash), max(loaded_at) FROM raw.load_manifest").fetchone()
    finally:
        con.close()


def rows_by_file(warehouse: Path) -> tuple[dict[tuple[str, str], int], set[str]]:
    """Raw rows per (table, content hash of the file they came from), and the manifest's hashes."""
    con = duckdb.connect(str(build_db(warehouse)), read_only=True)
    try:
        cols = con.execute("SELECT table_name, column_name FROM duckdb_columns() WHERE schema_name = 'raw' "
                           "AND column_name IN ('_file_hash', 'file_hash') AND table_name <> 'load_manifest'").fetchall()
        rows = {}
        for table, col in cols:
            for digest, n in con.execute(f"SELECT {col}, count(*) FROM raw.{table} WHERE {col} <> '-' GROUP BY 1").fetchall():
                rows[(table, digest)] = n
        manifest = {h for (h,) in con.execute("SELECT file_hash FROM raw.load_manifest").fetchall()}
        return rows, manifest
    finally:
        con.close()


def wait_until_openable(db: Path, timeout: float = 15.0) -> tuple[float, str]:
    """Seconds until `db` can be opened read-only (0.0 at once), and the first DuckDB lock conflict
    seen on the way with what /proc said about the holder; raises after `timeout`."""
    t0, first = time.monotonic(), ""
    while True:
        try:
            duckdb.connect(str(db), read_only=True).close()
            return time.monotonic() - t0, first
        except duckdb.IOException as exc:
            if "lock" not in str(exc) or time.monotonic() - t0 > timeout:
                raise
            if not first:
                match = re.search(r"PID (\d+)", str(exc))
                pid = match.group(1) if match else "?"
                try:
                    holder = Path(f"/proc/{pid}/stat").read_text()[:60].strip()
                except OSError as err:
                    holder = f"/proc/{pid}: {err.strerror}"
                first = f"{str(exc).splitlines()[0][-90:]} [{holder}]"
            time.sleep(0.01)


def partial_files(warehouse: Path, clean: dict[tuple[str, str], int]) -> list[str]:
    """Every file must be in the build database completely (with its manifest row) or not at all."""
    if not build_db(warehouse).exists():
        return []
    rows, manifest = rows_by_file(warehouse)
    problems = [f"{n} rows of {t} from file {h[:12]} without a manifest row" for (t, h), n in rows.items() if h not in manifest]
    problems += [f"{t} holds {rows.get((t, h), 0)} rows of file {h[:12]}, a clean load {n}"
                 for (t, h), n in clean.items() if h in manifest and rows.get((t, h), 0) != n]
    return problems


def totals(warehouse: Path) -> list:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return [con.execute(q).fetchone()[0] for q in (
            "SELECT count(*) FROM marts.fct_llm_calls",
            "SELECT sum(list_cost_usd)::VARCHAR FROM marts.fct_llm_calls",
            "SELECT sum(calls)::BIGINT FROM marts.token_pnl_daily",
        )]
    finally:
        con.close()


# --------------------------------------------------------------------------- landing folders


def read_lines(path: Path) -> list[str]:
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    return data.decode().splitlines()


def gateway_days(landing: Path) -> dict[str, list[Path]]:
    """The generator's daily gateway folders: day -> its two files, sorted."""
    days: dict[str, list[Path]] = {}
    for path in sorted((landing / "gateway").glob("20[0-9][0-9]/[0-9][0-9]/[0-9][0-9]/calls-*")):
        days.setdefault("-".join(path.parent.parts[-3:]), []).append(path)
    return days


def request_ids(lines: list[str]) -> dict[str, set[str]]:
    ids: dict[str, set[str]] = {}
    for line in lines:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and "request_id" in rec:
            ids.setdefault(rec["request_id"], set()).add(line)
    return ids


def streamed_days(landing: Path) -> dict[str, set[str]]:
    """day -> request ids logged in both of the day's files with different usage (streaming)."""
    out = {}
    for day, files in gateway_days(landing).items():
        if len(files) != 2:
            continue
        first, second = (request_ids(read_lines(f)) for f in files)
        streamed = {rid for rid in first.keys() & second.keys() if first[rid] != second[rid]}
        if streamed:
            out[day] = streamed
    return out


def gateway_call(i: int, day: date, prefix: str) -> dict:
    """A well-formed G1 record of a model the demo price book prices."""
    return {"request_id": f"{prefix}-{i:04d}", "timestamp": f"{day.isoformat()}T10:{i % 60:02d}:00Z",
            "provider": "openai", "model": "gpt-5.4-mini", "api": "chat.completions", "status": "ok",
            "workflow_id": f"wf-{prefix}-{i}", "team": "platform",
            "usage": {"prompt_tokens": 1000 + i, "completion_tokens": 100 + i}}


def write_lines(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines))
    return path


# --------------------------------------------------------------------------- the clean run


@dataclass
class Demo:
    truth: Truth
    root: Path
    warehouse: Path  # a clean run on a fresh warehouse; never modified after the fixture
    seconds: float  # how long that clean run took: T of the kill-9 test
    stderr: str
    marts: dict[str, list[dict]]

    @property
    def landing(self) -> Path:
        return self.truth.landing

    def copy_landing(self, name: str) -> Path:
        dst = self.root / name / "landing"
        shutil.copytree(self.landing, dst)
        return dst

    def copy_warehouse(self, name: str) -> Path:
        return copy_state(self.warehouse, self.root / name / "wh" / "tokenpnl.duckdb")

    def fresh_warehouse(self, name: str) -> Path:
        path = self.root / name / "wh" / "tokenpnl.duckdb"
        path.parent.mkdir(parents=True)
        return path


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Demo:
    root = tmp_path_factory.mktemp("faults")
    truth = generate(root / "data", seed=3, days=20, workflows_per_day=3)
    warehouse = root / "clean" / "wh" / "tokenpnl.duckdb"
    warehouse.parent.mkdir(parents=True)
    done = tokenpnl("run", truth.landing, warehouse, truth.as_of, truth.price_book)
    assert done.returncode == 0, done.stdout + done.stderr
    return Demo(truth, root, warehouse, done.seconds, done.stderr, read_marts(warehouse))


# =========================================================================== A. idempotency


def test_a_clean_run_counts_every_planted_duplicate_once(demo: Demo):
    """The demo landing folder holds a re-dropped file under a new name, a line repeated within
    a file and across the day's two files, and streaming duplicates; none is counted twice."""
    truth, warehouse = demo.truth, demo.warehouse
    # the duplicates are really there ...
    resend = list((demo.landing / "gateway" / "resend").glob("*"))
    assert resend and any(p.read_bytes() == resend[0].read_bytes() for p in demo.landing.rglob("calls-*") if p != resend[0])
    assert streamed_days(demo.landing), "no streaming duplicates in the demo data"
    counts = raw_counts(warehouse)
    calls = len(demo.marts["fct_llm_calls"])
    assert counts["llm_calls"] > calls  # raw keeps every version and copy
    assert re.search(r"ingest: \d+ new file\(s\), 2 already loaded", " ".join(demo.stderr.split()))
    # ... and the marts equal the independent truth: nothing lost, nothing twice
    assert truth_problems(truth, warehouse) == []
    keys = [tuple(r[k] for k in KEYS["fct_llm_calls"]) for r in demo.marts["fct_llm_calls"]]
    assert len(keys) == len(set(keys)) == len(truth.marts["fct_llm_calls"])
    assert sum(r["total_tokens"] for r in demo.marts["fct_llm_calls"]) == sum(r["total_tokens"] for r in truth.marts["fct_llm_calls"])
    rows, hashes, _ = manifest_stats(warehouse)
    assert rows == hashes  # every file content loaded exactly once


def test_replaying_the_same_landing_folder_changes_no_mart(demo: Demo):
    warehouse = demo.copy_warehouse("replay")
    before, pub_before, raw_before = canon(read_marts(warehouse)), publication(warehouse), raw_counts(warehouse)
    done = tokenpnl("run", demo.landing, warehouse, demo.truth.as_of, demo.truth.price_book)
    assert done.returncode == 0, done.stderr
    assert re.search(r"ingest: 0 new file\(s\), \d+ already loaded; 0 records", done.text), done.stderr
    assert publication(warehouse)[2] != pub_before[2]  # it did republish ...
    assert mismatching(before, canon(read_marts(warehouse))) == []  # ... the very same rows, quarantine included
    assert raw_counts(warehouse) == raw_before


def test_redropped_files_with_new_bytes_and_names_count_nothing_twice(demo: Demo):
    """Re-deliveries a content hash cannot catch: a file re-sent gzip-compressed under a new name,
    a .gz file re-sent uncompressed, and one day's two files merged and shuffled into one."""
    landing = demo.copy_landing("redrop")
    warehouse = demo.copy_warehouse("redrop")
    streamed = streamed_days(landing)
    bad = {Path(f).parent.as_posix() for f, _ in demo.truth.quarantined}
    days = gateway_days(landing)
    clean = [d for d, files in days.items() if d not in streamed and files[0].parent.relative_to(landing).as_posix() not in bad
             and any(f.suffix == ".gz" for f in files)]
    assert len(clean) >= 2, "not enough days without streaming duplicates or bad records"
    first_day, second_day = clean[0], clean[1]
    plain = [f for f in days[first_day] if f.suffix != ".gz"][0]
    gz = [f for f in days[first_day] if f.suffix == ".gz"][0]
    resend = landing / "gateway" / "resend"
    resend.mkdir(exist_ok=True)
    (resend / f"{first_day}-{plain.name}.gz").write_bytes(gzip.compress(plain.read_bytes()))
    write_lines(resend / f"{first_day}-{gz.name.removesuffix('.gz')}", read_lines(gz))
    merged = read_lines(days[second_day][0]) + read_lines(days[second_day][1])
    random.Random(5).shuffle(merged)
    write_lines(landing / "gateway" / "redelivered" / f"merged-{second_day}.jsonl", merged)
    new_lines = len(read_lines(plain)) + len(read_lines(gz)) + len(merged)
    raw_before = raw_counts(warehouse)

    done = tokenpnl("run", landing, warehouse, demo.truth.as_of, demo.truth.price_book)
    assert done.returncode == 0, done.stderr
    assert re.search(r"ingest: 3 new file\(s\)", done.text), done.stderr
    raw_after = raw_counts(warehouse)
    assert raw_after["llm_calls"] == raw_before["llm_calls"] + new_lines  # every copy landed in raw ...
    assert truth_problems(demo.truth, warehouse) == []  # ... and counted once in the marts


def test_a_redropped_streaming_version_gives_the_marts_of_a_clean_run_on_the_same_folder(demo: Demo):
    """Which version of a streamed request wins depends only on the landing folder (spec rules.md
    §2: later end time, ties to the path that sorts later), never on the order files arrived:
    re-dropping a day's first file (holding a partial version) under a later-sorting name and
    running again gives the marts a fresh warehouse builds from the same folder."""
    landing = demo.copy_landing("redrop_stream")
    warehouse = demo.copy_warehouse("redrop_stream")
    streamed = streamed_days(landing)
    if not streamed:
        raise RuntimeError("the demo data has no streaming duplicates")
    day = sorted(streamed)[0]
    first = gateway_days(landing)[day][0]  # the generator writes the partial version into the day's first file
    target = landing / "gateway" / "resend" / f"{day}-{first.name.removesuffix('.gz')}.gz"
    target.parent.mkdir(exist_ok=True)
    target.write_bytes(gzip.compress("\n".join(read_lines(first)).encode() + b"\n"))
    done = tokenpnl("run", landing, warehouse, demo.truth.as_of, demo.truth.price_book)
    assert done.returncode == 0, done.stderr
    clean = demo.root / "redrop_stream" / "clean" / "tokenpnl.duckdb"
    clean.parent.mkdir()
    done = tokenpnl("run", landing, clean, demo.truth.as_of, demo.truth.price_book)
    assert done.returncode == 0, done.stderr
    assert mismatching(canon(read_marts(clean), drop_loaded_at=True), canon(read_marts(warehouse), drop_loaded_at=True)) == []


# =========================================================================== A. kill -9


def test_kill_9_at_random_points_then_one_full_run_equals_a_clean_run(demo: Demo):
    """20 runs killed (process group, SIGKILL) after a random delay in [0, T] on the same
    warehouse, then one run to the end: its marts equal the clean run's and the truth. T is how
    long the clean run took, then how long the last run that finished took.

    The warehouse starts with an earlier publication and no build database (as after the loss
    of the build file), so every run loads every file from scratch until one finishes, and
    every kill has a publication it could damage: after each kill the published file must open
    read-only and hold every mart, complete."""
    truth, T = demo.truth, demo.seconds
    T_clean = T
    warehouse = demo.fresh_warehouse("kill9")
    shutil.copy2(demo.warehouse, warehouse)
    first_run_id = publication(warehouse)[2]
    logs = warehouse.parent.parent / "logs"
    clean_counts = published_tables(demo.warehouse)
    clean_files, _ = rows_by_file(demo.warehouse)
    rng = random.Random(KILL_SEED)
    events: list[dict] = []
    problems: list[str] = []
    t_start = time.monotonic()
    for i in range(KILLS):
        delay = rng.uniform(0, T)
        run = Started(truth.landing, warehouse, truth.as_of, truth.price_book, logs, f"kill{i:02d}")
        t_run = time.monotonic()
        try:
            rc = run.wait(timeout=delay)
            killed = False
            # Once a run finished, the next ones have nothing new and are incremental, far shorter:
            # aim their kills inside a run of that length.
            T = time.monotonic() - t_run
        except subprocess.TimeoutExpired:
            rc = run.kill_group()
            killed = True
        err = run.stderr()
        phase = phase_of(err) if killed else "completed before the kill"
        event = {"i": i, "delay": round(delay, 2), "rc": rc, "phase": phase,
                 "published_exists": warehouse.exists(), "tmp_left": warehouse.with_name(warehouse.name + ".tmp").exists(),
                 "republished": warehouse.exists() and publication(warehouse)[2] != first_run_id}
        events.append(event)
        if rc not in (0, -signal.SIGKILL):
            problems.append(f"kill {i}: run exited {rc} before the kill:\n{err[-1500:]}")
        if not warehouse.exists():
            problems.append(f"kill {i} ({phase}): the published file is gone")
        if not lock_is_free(warehouse):
            problems.append(f"kill {i}: the writer lock is still held")
        try:
            if build_db(warehouse).exists():
                # a process of the killed group may take a moment to let go of the file
                event["build_wait"], event["holder"] = wait_until_openable(build_db(warehouse))
            problems += [f"kill {i} ({phase}): {p}" for p in partial_files(warehouse, clean_files)]
        except duckdb.Error as exc:
            problems.append(f"kill {i} ({phase}): build database unreadable: {exc}")
        if warehouse.exists():
            try:
                tables = published_tables(warehouse)
            except duckdb.Error as exc:
                problems.append(f"kill {i} ({phase}): published file unreadable: {exc}")
            else:
                if set(tables) != PUBLISHED_TABLES or tables != clean_counts:
                    problems.append(f"kill {i} ({phase}): incomplete publication {tables}")
    kill_seconds = time.monotonic() - t_start

    final = tokenpnl("run", truth.landing, warehouse, truth.as_of, truth.price_book)
    actual = read_marts(warehouse) if final.returncode == 0 else None
    lost = doubled = extra = raw_excess = files_twice = None
    if actual is not None:
        want = {tuple(r[k] for k in KEYS["fct_llm_calls"]) for r in truth.marts["fct_llm_calls"]}
        got = [tuple(r[k] for k in KEYS["fct_llm_calls"]) for r in actual["fct_llm_calls"]]
        lost, extra, doubled = len(want - set(got)), len(set(got) - want), len(got) - len(set(got))
        clean_raw, raw = raw_counts(demo.warehouse), raw_counts(warehouse)
        raw_excess = {t: raw[t] - clean_raw.get(t, 0) for t in raw if raw[t] != clean_raw.get(t, 0)}
        rows, hashes, _ = manifest_stats(warehouse)
        files_twice = rows - hashes

    where = Counter(e["phase"] for e in events)
    print(f"\n[kill -9] seed {KILL_SEED}, T = {T_clean:.1f} s (one clean run), then {T:.1f} s (the last finished "
          f"run), {KILLS} runs, delays uniform in [0, T]")
    print(f"[kill -9] kills landed in: " + ", ".join(f"{k} {v}" for k, v in sorted(where.items(), key=lambda kv: -kv[1])))
    print(f"[kill -9] delays: {[e['delay'] for e in events]}")
    print(f"[kill -9] phases: {[e['phase'] for e in events]}")
    print(f"[kill -9] published file present and complete after kill: {sum(e['published_exists'] for e in events)}/{KILLS} "
          f"(republished by a killed run's publish step by then: {sum(e['republished'] for e in events)}); "
          f"stale .tmp left behind: {sum(e['tmp_left'] for e in events)}; problems after kills: {len(problems)}")
    waits = [(e["i"], round(e["build_wait"], 3), e["holder"]) for e in events if e.get("holder")]
    print(f"[kill -9] build database still locked by a dying process right after the kill: {waits or 'never'}")
    print(f"[kill -9] final run: exit {final.returncode} in {final.seconds:.1f} s; records lost {lost}, "
          f"calls counted twice {doubled}, unexpected calls {extra}, raw rows in excess of a clean load {raw_excess}, "
          f"files loaded twice {files_twice}; kill phase {kill_seconds:.0f} s")

    assert problems == [], "\n".join(problems)
    assert final.returncode == 0, final.stderr
    assert (lost, doubled, extra, raw_excess, files_twice) == (0, 0, 0, {}, 0)
    assert mismatching(canon(demo.marts, drop_loaded_at=True), canon(actual, drop_loaded_at=True)) == []
    assert truth_problems(truth, warehouse) == []
    assert sum(e["rc"] == -signal.SIGKILL for e in events) >= KILLS // 2  # the faults were really injected


def test_kill_9_inside_ingest_resumes_without_losing_or_double_loading_a_file(demo: Demo):
    """Random kills rarely land in ingest (a few seconds of the first run only), so here kill -9
    lands inside ingest on purpose: a few milliseconds after the progress line of a randomly
    chosen file (logged just before its transaction begins). After each kill every file must be
    in the build database completely, with its manifest row, or not at all; the next run resumes."""
    warehouse = demo.fresh_warehouse("kill_ingest")
    logs = warehouse.parent.parent / "logs"
    clean_files, _ = rows_by_file(demo.warehouse)
    total_files = manifest_stats(demo.warehouse)[0]
    listed = int(re.search(r"\[\d+/(\d+)\]", demo.stderr).group(1))
    rng = random.Random(KILL_SEED + 2)
    committed, problems = [], []
    for i, target in enumerate(sorted(rng.sample(range(2, listed + 1), 5))):
        run = Started(demo.landing, warehouse, demo.truth.as_of, demo.truth.price_book, logs, f"ingest{i:02d}")
        while run.proc.poll() is None:
            err = run.stderr()
            if "✓ ingest" in err or max(map(int, re.findall(r"\[(\d+)/\d+\]", err)), default=0) >= target:
                break
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.03))
        assert run.kill_group() == -signal.SIGKILL
        err = run.stderr()
        if build_db(warehouse).exists():
            wait_until_openable(build_db(warehouse))
        problems += [f"kill {i}: {p}" for p in partial_files(warehouse, clean_files)]
        rows, hashes, _ = manifest_stats(warehouse)
        if rows != hashes:
            problems.append(f"kill {i}: {rows} manifest rows for {hashes} files")
        progress = re.findall(r"\[(\d+)/\d+\] (\S+)", err)
        committed.append((rows, progress[-1][1] if progress and "✓ ingest" not in err else "after ingest"))
        if rows == total_files:
            break
    print(f"\n[kill -9 ingest] {len(committed)} kills; files committed after each kill (and the file being "
          f"loaded when killed): {committed}")
    assert problems == [], "\n".join(problems)
    assert [n for n, _ in committed] == sorted(n for n, _ in committed)  # never goes back
    assert sum(0 < n < total_files for n, _ in committed) >= 2, committed  # the kills were really mid-ingest
    final = tokenpnl("run", demo.landing, warehouse, demo.truth.as_of, demo.truth.price_book)
    assert final.returncode == 0, final.stderr
    assert rows_by_file(warehouse)[0] == clean_files and raw_counts(warehouse) == raw_counts(demo.warehouse)
    assert mismatching(canon(demo.marts, drop_loaded_at=True), canon(read_marts(warehouse), drop_loaded_at=True)) == []


def test_kill_9_during_publish_never_leaves_a_half_written_warehouse(demo: Demo):
    """The publish step alone (tokenpnl.publish.publish in its own process), killed at random
    moments inside its own duration, 10 times over an existing publication."""
    warehouse = demo.fresh_warehouse("kill_publish")
    source = build_db(demo.warehouse)
    helper = [sys.executable, str(HELPERS / "publish_once.py"), str(source), str(warehouse), demo.truth.as_of.isoformat()]
    env = {**ENV, "PYTHONPATH": str(PROJECT_ROOT)}

    def start(run_id: str) -> subprocess.Popen:
        proc = subprocess.Popen([*helper, run_id], stdout=subprocess.PIPE, text=True, env=env, start_new_session=True)
        assert proc.stdout.readline().strip() == "ready"
        return proc

    proc = start("first")
    line = proc.stdout.readline()
    assert proc.wait() == 0 and line.startswith("published"), line
    duration = float(line.split()[1])
    expected = published_tables(warehouse)
    assert set(expected) == PUBLISHED_TABLES
    rng = random.Random(KILL_SEED + 1)
    outcomes = Counter()
    for i in range(10):
        proc = start(f"kill{i}")
        time.sleep(rng.uniform(0, duration * 1.2))
        os.killpg(proc.pid, signal.SIGKILL)
        rc = proc.wait()
        proc.stdout.close()
        tables = published_tables(warehouse)  # raises if unreadable
        assert tables == expected, f"kill {i}: {tables}"
        run_id = publication(warehouse)[2]
        outcomes["killed before the rename" if rc == -signal.SIGKILL and run_id != f"kill{i}" else
                 "killed after the rename" if rc == -signal.SIGKILL else "finished first"] += 1
    proc = start("last")
    assert proc.wait() == 0
    proc.stdout.close()
    assert publication(warehouse)[2] == "last"
    assert canon(read_marts(warehouse)) == canon(demo.marts)
    print(f"\n[kill -9 publish] publish takes {duration:.2f} s; 10 kills: {dict(outcomes)}")
    assert outcomes["finished first"] < 10


# =========================================================================== E. orchestration


def test_two_concurrent_runs_one_wins_the_other_is_refused_quickly(demo: Demo):
    warehouse = demo.fresh_warehouse("contention")
    logs = warehouse.parent.parent / "logs"
    a = Started(demo.landing, warehouse, demo.truth.as_of, demo.truth.price_book, logs, "a")
    b = Started(demo.landing, warehouse, demo.truth.as_of, demo.truth.price_book, logs, "b")
    deadline = time.monotonic() + 600
    while any(r.proc.poll() is None for r in (a, b)) and time.monotonic() < deadline:
        for r in (a, b):
            if r.proc.poll() is not None and r.seconds is None:
                r.wait()  # records when it ended
        time.sleep(0.05)
    rcs = {a.wait(timeout=1): a, b.wait(timeout=1): b}
    assert sorted(rcs) == [0, 1], {r.pid: (rc, r.stderr()[-800:]) for rc, r in rcs.items()}
    winner, loser = rcs[0], rcs[1]
    text = " ".join(loser.stderr().split())
    # The holder's pid is written just after the flock is taken, so a contender arriving in
    # between reads an empty lock file and says "pid unknown" (tokenpnl/lock.py).
    assert "another tokenpnl run" in text and re.search(rf"\(pid ({winner.pid}|unknown)\)", text), text
    assert loser.seconds < 15 and loser.seconds < winner.seconds / 2, (loser.seconds, winner.seconds)
    assert "Running the nightly job" not in loser.stderr()  # refused before doing anything
    assert truth_problems(demo.truth, warehouse) == []
    print(f"\n[contention] winner {winner.seconds:.1f} s, loser refused after {loser.seconds:.1f} s")


def test_two_warehouse_names_sharing_one_build_database_are_serialised(demo: Demo):
    warehouse = demo.fresh_warehouse("shared_build")
    other = warehouse.with_suffix(".db")  # tokenpnl.db: same stem, so the same tokenpnl.build.duckdb
    if build_db(other) != build_db(warehouse):
        raise RuntimeError("the two warehouses do not share a build database")
    logs = warehouse.parent.parent / "logs"
    first = Started(demo.landing, warehouse, demo.truth.as_of, demo.truth.price_book, logs, "first")
    second = None
    try:
        if not first.wait_for("▸ dbt build"):
            raise RuntimeError(first.stderr())
        second = Started(demo.landing, other, demo.truth.as_of, demo.truth.price_book, logs, "second")
        went_ahead = second.wait_for("Running the nightly job", timeout=120)
        assert not went_ahead and "another tokenpnl run" in " ".join(second.stderr().split()), \
            "a second run on the same build database was not refused"
    finally:
        for run in (first, second):
            if run is not None:
                run.kill_group()


def test_a_sigkilled_run_releases_the_lock_and_the_next_run_is_not_refused(demo: Demo):
    warehouse = demo.fresh_warehouse("lock_kill")
    logs = warehouse.parent.parent / "logs"
    first = Started(demo.landing, warehouse, demo.truth.as_of, demo.truth.price_book, logs, "first")
    dbt_child(first)
    time.sleep(2)  # inside dbt build: the dbt child process is writing the build database
    assert not lock_is_free(warehouse)
    assert first.kill_group() == -signal.SIGKILL
    t_killed = time.monotonic()
    assert lock_is_free(warehouse)
    second = tokenpnl("run", demo.landing, warehouse, demo.truth.as_of, demo.truth.price_book)
    assert second.returncode == 0, second.stderr
    assert "refused" not in second.text
    assert truth_problems(demo.truth, warehouse) == []
    print(f"\n[lock] lock free {time.monotonic() - t_killed - second.seconds:.3f} s after the kill; next run took {second.seconds:.1f} s")


def test_killing_only_the_run_process_kills_its_dbt_before_the_next_run_can_start(demo: Demo):
    """The OOM killer, `kill -9 PID` or systemd KillMode=process kill the run process only. Its
    lock is released at once, so its dbt child (started through tokenpnl-dbt) must die with it
    rather than go on writing the build database under the next run."""
    warehouse = demo.copy_warehouse("orphan_dbt")
    build = build_db(warehouse)
    logs = warehouse.parent.parent / "logs"
    first = Started(demo.landing, warehouse, demo.truth.as_of, demo.truth.price_book, logs, "first")
    try:
        child = dbt_child(first)
        deadline = time.monotonic() + 120
        while not holds_open(child, build):
            if time.monotonic() > deadline:
                raise RuntimeError("dbt never opened the build database")
            time.sleep(0.02)
        os.kill(first.pid, signal.SIGKILL)  # the run process only
        first.wait()
        t_killed = time.monotonic()
        assert lock_is_free(warehouse)
        assert live_in_group(first.pid, wait=5.0) == [], "the killed run's dbt outlived it"
        print(f"\n[orphan dbt] run process killed; its dbt child {child} gone {time.monotonic() - t_killed:.3f} s later")
    finally:
        try:
            os.killpg(first.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    done = tokenpnl("run", demo.landing, warehouse, demo.truth.as_of, demo.truth.price_book)
    assert done.returncode == 0, done.stderr
    assert truth_problems(demo.truth, warehouse) == []


def test_a_failed_blocking_check_releases_the_lock_and_keeps_the_last_publication(demo: Demo):
    landing = demo.copy_landing("gx_fail")
    warehouse = demo.copy_warehouse("gx_fail")
    good = [json.dumps(gateway_call(i, demo.truth.as_of, "mostly-garbage")) for i in range(2)]
    write_lines(landing / "gateway" / "late" / "garbage.jsonl", good + ["not json {"] * 60)
    before, pub, inode = canon(read_marts(warehouse)), publication(warehouse), warehouse.stat().st_ino

    done = tokenpnl("run", landing, warehouse, demo.truth.as_of, demo.truth.price_book)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "GX audit FAILED" in done.text and "quarantine" in done.text, done.stderr
    assert f"The last good publication in {warehouse} is unchanged" in done.text
    assert lock_is_free(warehouse)
    assert warehouse.stat().st_ino == inode and publication(warehouse) == pub
    assert mismatching(before, canon(read_marts(warehouse))) == []
    # A real second writer gets the lock (it prints this line only once it holds it).
    probe = Started(landing, warehouse, demo.truth.as_of, demo.truth.price_book, warehouse.parent.parent / "logs", "probe")
    took = probe.wait_for("Running the nightly job", timeout=120)
    probe.kill_group()
    assert took, probe.stderr()
    assert "refused" not in probe.stderr()


def test_rebuild_after_a_normal_run_gives_identical_marts(demo: Demo):
    warehouse = demo.copy_warehouse("rebuild")
    _, _, loaded_before = manifest_stats(warehouse)
    done = tokenpnl("rebuild", demo.landing, warehouse, demo.truth.as_of, demo.truth.price_book)
    assert done.returncode == 0, done.stderr
    assert "Dropped" in done.text
    assert manifest_stats(warehouse)[2] > loaded_before  # really reloaded from the landing folder
    assert mismatching(canon(demo.marts, drop_loaded_at=True), canon(read_marts(warehouse), drop_loaded_at=True)) == []
    assert truth_problems(demo.truth, warehouse) == []


def test_a_truncated_build_database_fails_the_run_cleanly_and_rebuild_recovers(demo: Demo):
    """Corruption, not deletion (`rebuild` deletes the build database anyway, missing_ok): the
    build file truncated to 100 bytes. `run` must fail with exit 1 and keep the publication;
    `rebuild` must restore the marts of a clean run."""
    warehouse = demo.copy_warehouse("truncated")
    os.truncate(build_db(warehouse), 100)
    pub, inode = publication(warehouse), warehouse.stat().st_ino

    done = tokenpnl("run", demo.landing, warehouse, demo.truth.as_of, demo.truth.price_book)
    print(f"\n[truncated build] run: exit {done.returncode}; {done.text[-600:]}")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "step raw_tables" in done.text and "The last good publication" in done.text
    assert lock_is_free(warehouse)
    assert warehouse.stat().st_ino == inode and publication(warehouse) == pub

    done = tokenpnl("rebuild", demo.landing, warehouse, demo.truth.as_of, demo.truth.price_book)
    assert done.returncode == 0, done.stderr
    assert mismatching(canon(demo.marts, drop_loaded_at=True), canon(read_marts(warehouse), drop_loaded_at=True)) == []
    assert truth_problems(demo.truth, warehouse) == []


def test_a_bi_reader_sees_the_old_or_the_new_publication_never_a_mix(demo: Demo):
    """Two BI reader processes while `tokenpnl run` republishes with 5 new calls: one opens a new
    read-only connection every iteration, the other holds one connection for the whole time."""
    landing = demo.copy_landing("bi")
    warehouse = demo.copy_warehouse("bi")
    new_calls = [json.dumps(gateway_call(i, demo.truth.as_of, "late")) for i in range(5)]
    write_lines(landing / "gateway" / "late" / "calls-late.jsonl", new_calls)
    old = totals(warehouse)
    stop = warehouse.parent / "stop"
    readers = {mode: subprocess.Popen(
        [sys.executable, str(HELPERS / "bi_reader.py"), mode, str(warehouse), str(stop), str(warehouse.parent / f"{mode}.json")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV) for mode in ("fresh", "held")}
    try:
        for reader in readers.values():
            assert reader.stdout.readline().strip() == "ready"
        done = tokenpnl("run", landing, warehouse, demo.truth.as_of, demo.truth.price_book)
    finally:
        stop.touch()
        reader_errs = {mode: r.communicate(timeout=120)[1] for mode, r in readers.items()}
    assert done.returncode == 0, done.stderr
    assert all(r.returncode == 0 for r in readers.values()), reader_errs
    fresh_seen = json.loads((warehouse.parent / "fresh.json").read_text())
    held_seen = json.loads((warehouse.parent / "held.json").read_text())
    new = totals(warehouse)
    assert new[0] == old[0] + 5 and new[2] == old[2] + 5 and new[1] != old[1]
    old, new = tuple(old), tuple(new)

    assert fresh_seen["errors"] == [] and held_seen["errors"] == []
    fresh = Counter(tuple(f) for f in fresh_seen["fresh"])
    assert set(fresh) <= {old, new}, fresh  # never a mixed or partial triple
    assert fresh[old] > 0 and fresh[new] > 0, fresh  # it really read across the swap
    assert {tuple(f) for f in held_seen["held"]} == {old}  # a held connection keeps its snapshot
    beside = Counter(tuple(f) for f in held_seen["fresh_beside_held"])
    assert set(beside) <= {old, new}, beside
    # writes through a read-only connection fail and change nothing
    assert len(held_seen["write_attempts"]) == 4
    assert all(w["error"] and "read-only" in w["error"].lower() for w in held_seen["write_attempts"]), held_seen["write_attempts"]
    assert totals(warehouse) == list(new) and "bi_scratch" not in published_tables(warehouse)
    print(f"\n[bi reader] fresh connections: {fresh_seen['iterations']} iterations, old totals {fresh[old]}x, "
          f"new {fresh[new]}x, 0 errors; held connection: {len(held_seen['held'])} reads, all old; new connections "
          f"opened beside the held one in its process: old {beside[old]}x, new {beside[new]}x; "
          f"{len(held_seen['write_attempts'])} write attempts refused")


def test_a_read_only_connection_cannot_write_the_published_file(demo: Demo):
    warehouse = demo.copy_warehouse("readonly")
    digest = warehouse.read_bytes()
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        for sql in ("CREATE TABLE marts.x AS SELECT 1 AS a", "INSERT INTO marts.exec_dashboard SELECT * FROM marts.exec_dashboard",
                    "UPDATE marts.fct_llm_calls SET list_cost_usd = 0", "CREATE SCHEMA hack"):
            with pytest.raises(duckdb.Error, match="(?i)read-only"):
                con.execute(sql)
        assert con.execute("SELECT count(*) FROM marts.fct_llm_calls").fetchone()[0] == len(demo.marts["fct_llm_calls"])
    finally:
        con.close()
    assert warehouse.read_bytes() == digest
