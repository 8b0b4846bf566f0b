"""The benchmark runner end to end at a small size: generate, floor, `tokenpnl run`, and the
bench's correctness guard (the floor's marts equal tokenpnl's). No timing is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent


def test_bench_runner_at_small_size(tmp_path: Path):
    results = tmp_path / "results"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", "--calls-per-day", "20000", "--days", "2", "--repeat", "1", "--keep",
         "--data-dir", str(tmp_path / "data"), "--work-dir", str(tmp_path / "work"), "--results-dir", str(results)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    records = [json.loads(line) for line in (results / "results.jsonl").read_text().splitlines()]
    by_measure = {r["measure"]: r for r in records}
    check = by_measure["marts equal (floor vs tokenpnl)"]
    assert check["equal"] is True, check["compare"]
    for mart in ("token_pnl_daily", "cost_per_verified_success"):
        assert check["compare"][mart]["rows"] > 0
        assert check["compare"][mart]["only_tokenpnl"] == check["compare"][mart]["only_floor"] == 0
    assert check["compare"]["quarantined"] == 0  # the generated data is valid by construction
    for measure in ("floor (DuckDB alone)", "tokenpnl run (fresh warehouse)"):
        rec = by_measure[measure]
        assert rec["runs"] == 1 and rec["wall_s"][0] > 0 and rec["peak_rss_mib"][0] > 0
        assert rec["calls"] == 40_000
    assert "ratio tokenpnl / floor" in by_measure
    assert "| night | floor (DuckDB alone) |" in proc.stdout  # the markdown table to paste

    # the BI queries against a kept publication (how the 30-day figures are taken from a kept scenario)
    published = tmp_path / "work" / "night" / "wh" / "tokenpnl.duckdb"
    assert published.is_file() and any((tmp_path / "data").iterdir())  # kept with --keep
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", "--scenario", "bi", "--published", str(published), "--bi-runs", "2",
         "--results-dir", str(results)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    bi = [json.loads(line) for line in (results / "results.jsonl").read_text().splitlines()][len(records):]
    assert {r["measure"] for r in bi} == {"token_pnl_daily: 30 days, every row", "token_pnl_daily: 30 days by team and model",
                                          "cost_per_verified_success: a year"}
    assert all(r["runs"] == 2 and r["rows"] > 0 for r in bi)
