"""The benchmark scenarios. Each appends result records (dicts) to `Bench.records`.

- night: the floor and `tokenpnl run` on a fresh warehouse, interleaved, R times each, on the
  same generated folder; then the floor's marts must equal tokenpnl's published ones.
- fixed: `tokenpnl run` on an empty landing folder (what a night costs before any data).
- incremental: D days already loaded, then day D + 1 arrives: that night, against a night that
  builds day D + 1 alone on a fresh warehouse, and a full `tokenpnl rebuild` of all D + 1 days.
- bi: BI queries against the published file, median of N connections.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Callable

import duckdb

from bench import compare, measure
from bench.generate import GENERATOR_VERSION, Params, generate

ROOT = Path(__file__).resolve().parent.parent
# the tokenpnl CLI of this venv; BENCH_TOKENPNL points elsewhere (another checkout, an installed release)
TOKENPNL = os.environ.get("BENCH_TOKENPNL") or str(Path(sys.executable).with_name("tokenpnl"))


@dataclass
class Bench:
    calls_per_day: int
    days: int
    repeat: int
    start: date
    seed: int
    work: Path
    data: Path
    keep: bool = False
    timeout: float = 7200
    bi_runs: int = 20
    records: list[dict] = field(default_factory=list)
    created: list[Path] = field(default_factory=list)  # removed at the end unless keep
    log: Callable[[str], None] = print

    # ---- building blocks -------------------------------------------------------------

    def dataset(self, days: int) -> tuple[Path, dict]:
        """The generated folder for (calls per day, days, start, seed): reused when its manifest matches."""
        p = Params(self.calls_per_day, days, self.start, self.seed)
        folder = self.data / f"c{p.calls_per_day}_d{days}_s{p.seed}_{p.start}"
        manifest = folder / "manifest.json"
        if manifest.exists():
            m = json.loads(manifest.read_text())
            if {k: m.get(k) for k in p.as_dict()} == p.as_dict() and m.get("generator") == GENERATOR_VERSION \
                    and (folder / "landing").is_dir():
                self.log(f"reusing {folder} ({m['calls']:,} calls)")
                return folder, m
        self.log(f"generating {folder} ({p.calls_per_day:,} calls/day x {days} days)")
        self.created.append(folder)
        m = generate(folder, p, log=lambda s: self.log(s))
        self.records.append({"scenario": "generate", "measure": "bench/generate.py", "calls": m["calls"],
                             "days": days, "runs": 1, "wall_s": [m["generated_in_s"]], "files": len(m["files"])})
        return folder, m

    def series(self, scenario: str, name: str, cmd: Callable[[], list[str]], *, calls: int,
               prepare: Callable[[], None] | None = None, runs: int | None = None, note: str = "",
               env: dict[str, str] | None = None) -> dict:
        """Run a command `runs` times (prepare() untimed before each) and record the measurements."""
        rec = {"scenario": scenario, "measure": name, "calls": calls, "runs": 0, "wall_s": [], "cpu_s": [],
               "peak_rss_mib": [], "note": note}
        self.records.append(rec)
        for i in range(runs or self.repeat):
            if prepare:
                prepare()
            m = measure.run(cmd(), env={**os.environ, "TOKENPNL_HMAC_KEY": "bench-not-secret", **(env or {})}, cwd=ROOT,
                            timeout=self.timeout)
            if m.returncode != 0:
                errors = [line.strip() for line in m.output_tail.splitlines() if "Error" in line]
                rec["note"] = f"FAILED after {m.wall_s:.0f} s (exit {m.returncode}): " + (errors[-1] if errors else "see output")[:200]
                rec["output_tail"] = m.output_tail
                raise RuntimeError(f"{name} failed (exit {m.returncode}):\n{m.output_tail}")
            rec["runs"] += 1
            # tokenpnl prints "✓ <step> (12.3 s)" per step: keep them to see where a night goes
            for step, secs in re.findall(r"✓ (.+?) \(([\d.]+) s\)", m.output_tail):
                rec.setdefault("steps_s", {}).setdefault(step, []).append(float(secs))
            rec["wall_s"].append(round(m.wall_s, 3))
            rec["cpu_s"].append(round(m.cpu_s, 2))
            rec["peak_rss_mib"].append(round(m.peak_rss_mib, 1))
            self.log(f"  {scenario} / {name} [{i + 1}]: {m.wall_s:.2f} s, peak {m.peak_rss_mib:.0f} MiB")
        return rec

    def fresh(self, *parts: str) -> Path:
        path = self.work.joinpath(*parts)
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True)
        self.created.append(path)  # only what this run made is removed (never the whole work dir)
        return path

    @staticmethod
    def tokenpnl(landing: Path, warehouse: Path, as_of: str, book: Path | None, command: str = "run") -> list[str]:
        cmd = [TOKENPNL, command, "--landing", str(landing), "--warehouse", str(warehouse), "--as-of", as_of]
        return cmd + (["--price-book", str(book)] if book else [])

    @staticmethod
    def floor(landing: Path, as_of: str, book: Path, out: Path) -> list[str]:
        return [sys.executable, "-m", "bench.floor", "--landing", str(landing), "--as-of", as_of,
                "--price-book", str(book), "--out", str(out)]

    def check(self, scenario: str, published: Path, floor_db: Path) -> dict:
        report = compare.compare(published, floor_db)
        self.log(compare.summary(report))
        self.records.append({"scenario": scenario, "measure": "marts equal (floor vs tokenpnl)",
                             "equal": report["equal"] and report["quarantined"] == 0, "compare": report})
        return report

    # ---- scenarios -----------------------------------------------------------------

    def night(self) -> Path:
        folder, m = self.dataset(self.days)
        landing, book, as_of = folder / "landing", folder / m["price_book"], m["as_of"]
        work = self.fresh("night")
        floor_db, wh = work / "floor.duckdb", work / "wh" / "tokenpnl.duckdb"
        floor_rec = tok_rec = None
        for _ in range(self.repeat):  # interleaved, so a change of machine load hits both alike
            floor_rec = self._one(floor_rec, "night", "floor (DuckDB alone)", lambda: self.floor(landing, as_of, book, floor_db), m)
            tok_rec = self._one(tok_rec, "night", "tokenpnl run (fresh warehouse)",
                                lambda: self.tokenpnl(landing, wh, as_of, book), m,
                                prepare=lambda: shutil.rmtree(wh.parent, ignore_errors=True))
        self.ratio("night", tok_rec, floor_rec, "tokenpnl / floor")
        self.check("night", wh, floor_db)
        return wh

    def _one(self, rec, scenario, name, cmd, m, prepare=None) -> dict:
        new = self.series(scenario, name, cmd, calls=m["calls"], prepare=prepare, runs=1)
        if rec is None:
            return new
        self.records.remove(new)
        for k in ("wall_s", "cpu_s", "peak_rss_mib"):
            rec[k] += new[k]
        rec["runs"] += 1
        return rec

    def ratio(self, scenario: str, num: dict, den: dict, label: str) -> float:
        value = statistics.median(num["wall_s"]) / statistics.median(den["wall_s"])
        self.records.append({"scenario": scenario, "measure": f"ratio {label}", "ratio": round(value, 2)})
        self.log(f"  {scenario}: {label} = {value:.2f}")
        return value

    def fixed(self) -> None:
        work = self.fresh("fixed")
        landing, wh = work / "landing", work / "wh" / "tokenpnl.duckdb"
        for kind in ("gateway", "invoices", "outcomes"):
            (landing / kind).mkdir(parents=True)
        self.series("fixed", "tokenpnl run (empty landing)", lambda: self.tokenpnl(landing, wh, self.start.isoformat(), None),
                    calls=0, prepare=lambda: shutil.rmtree(wh.parent, ignore_errors=True))

    def incremental(self) -> None:
        folder, m = self.dataset(self.days + 1)
        book, files = folder / m["price_book"], m["files"]
        last, new = (self.start + timedelta(days=self.days - 1)).isoformat(), (self.start + timedelta(days=self.days)).isoformat()
        work = self.fresh("incremental")
        full, one = work / "landing", work / "landing_one_day"
        _link(folder / "landing", full, [f for f, d in files.items() if d <= last])
        wh, hist = work / "wh" / "tokenpnl.duckdb", work / "wh_history"
        calls_hist = _calls(folder, last)
        self.series("incremental", f"history: {self.days} days (setup, once)", lambda: self.tokenpnl(full, wh, last, book),
                    calls=calls_hist, runs=1)
        shutil.copytree(wh.parent, hist)
        _link(folder / "landing", full, [f for f, d in files.items() if d == new])
        _link(folder / "landing", one, [f for f, d in files.items() if d == new])
        day_calls = m["calls"] - calls_hist

        def restore() -> None:
            shutil.rmtree(wh.parent, ignore_errors=True)
            shutil.copytree(hist, wh.parent)

        inc = self.series("incremental", "tokenpnl run: day D+1 on D loaded days", lambda: self.tokenpnl(full, wh, new, book),
                          calls=day_calls, prepare=restore)
        floor_db = work / "floor.duckdb"
        self.series("incremental", f"floor: all {self.days + 1} days", lambda: self.floor(full, new, book, floor_db), calls=m["calls"])
        self.check("incremental", wh, floor_db)
        wh1 = work / "wh_one" / "tokenpnl.duckdb"
        alone = self.series("incremental", "tokenpnl run: day D+1 alone (fresh warehouse)", lambda: self.tokenpnl(one, wh1, new, book),
                            calls=day_calls, prepare=lambda: shutil.rmtree(wh1.parent, ignore_errors=True))
        self.ratio("incremental", inc, alone, "incremental / one-day night")
        self.series("incremental", f"tokenpnl rebuild: all {self.days + 1} days", lambda: self.tokenpnl(full, wh, new, book, "rebuild"),
                    calls=m["calls"], prepare=restore)
        self.check("incremental (rebuild)", wh, floor_db)

    def spill(self, limit: str) -> None:
        """A night under TOKENPNL_MEMORY_LIMIT: DuckDB must spill to disk, not fail, and the marts
        must still equal the floor's."""
        folder, m = self.dataset(self.days)
        landing, book, as_of = folder / "landing", folder / m["price_book"], m["as_of"]
        work = self.fresh("spill")
        floor_db, wh = work / "floor.duckdb", work / "wh" / "tokenpnl.duckdb"
        self.series("spill", f"tokenpnl run, TOKENPNL_MEMORY_LIMIT={limit}", lambda: self.tokenpnl(landing, wh, as_of, book),
                    calls=m["calls"], prepare=lambda: shutil.rmtree(wh.parent, ignore_errors=True),
                    env={"TOKENPNL_MEMORY_LIMIT": limit})
        self.series("spill", "floor (DuckDB alone)", lambda: self.floor(landing, as_of, book, floor_db), calls=m["calls"], runs=1)
        self.check("spill", wh, floor_db)

    def bi(self, warehouse: Path | None = None) -> None:
        if warehouse is None or not warehouse.exists():
            folder, m = self.dataset(self.days)
            warehouse = self.fresh("bi") / "wh" / "tokenpnl.duckdb"
            self.series("bi", "tokenpnl run (setup, once)", lambda: self.tokenpnl(folder / "landing", warehouse, m["as_of"],
                        folder / m["price_book"]), calls=m["calls"], runs=1)
        con = duckdb.connect(str(warehouse), read_only=True)
        (as_of,) = con.execute("SELECT max(as_of) FROM marts.publication").fetchone()
        con.close()
        month, year = f"DATE '{as_of}' - INTERVAL 30 DAY", f"DATE '{as_of}' - INTERVAL 1 YEAR"
        queries = {
            "token_pnl_daily: 30 days, every row": f"SELECT * FROM marts.token_pnl_daily WHERE day > {month} ORDER BY ALL",
            "token_pnl_daily: 30 days by team and model": (
                "SELECT team, provider, model, sum(calls), sum(total_tokens), sum(list_cost_usd), sum(invoice_cost_usd), "
                f"sum(retry_tokens) / sum(total_tokens) FROM marts.token_pnl_daily WHERE day > {month} GROUP BY ALL ORDER BY 6 DESC"),
            "cost_per_verified_success: a year": f"SELECT * FROM marts.cost_per_verified_success WHERE month > {year} ORDER BY ALL",
        }
        for name, sql in queries.items():
            times, rows = [], 0
            for _ in range(self.bi_runs):
                t0 = time.perf_counter()  # a BI client: open the published file, query, fetch everything
                con = duckdb.connect(str(warehouse), read_only=True)
                rows = len(con.execute(sql).fetchall())
                con.close()
                times.append(round(time.perf_counter() - t0, 4))
            self.records.append({"scenario": "bi", "measure": name, "runs": len(times), "wall_s": times, "rows": rows,
                                 "note": f"{rows} rows"})
            self.log(f"  bi / {name}: median {statistics.median(times) * 1000:.1f} ms ({rows} rows)")


def _link(src: Path, dst: Path, rels: list[str]) -> None:
    """Place landing files by hard link (no copy; tokenpnl never follows symlinks), else copy."""
    for rel in rels:
        target = dst / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(src / rel, target)
        except OSError:
            shutil.copy2(src / rel, target)


def _calls(folder: Path, last: str) -> int:
    """Calls of the generated folder up to and including day `last`."""
    m = json.loads((folder / "manifest.json").read_text())
    return sum(n for d, n in m["calls_by_day"].items() if d <= last)
