"""Benchmark tokenpnl against the DuckDB-only floor.

    python -m bench.run --calls-per-day 1000000 --days 1 --repeat 3 [--scenario night|fixed|incremental|bi|spill|all] [--keep]

Generates (or reuses) a seeded landing folder under bench/data/, runs the scenarios (see
bench/scenarios.py), prints a table and a markdown table to paste, and appends one JSON line per
measurement to bench/results/results.jsonl. Exits 1 when the floor's marts differ from tokenpnl's
(the bench's correctness guard) or a run fails. Without --keep it removes the data and warehouses
it created (folders it reused stay).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
from datetime import date, datetime, timezone
from enum import Enum
from pathlib import Path
from typing import Annotated

import duckdb
import typer
from rich.console import Console
from rich.table import Table

from bench.scenarios import ROOT, Bench

HERE = Path(__file__).resolve().parent
console = Console(stderr=True, width=160)


class Scenario(str, Enum):
    night = "night"
    fixed = "fixed"
    incremental = "incremental"
    spill = "spill"
    bi = "bi"
    all = "all"


def machine() -> dict:
    """What the figures were measured on."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
        except OSError:
            return ""

    return {"cpu": cpu, "cores": os.cpu_count(), "mem_gib": round(mem / 2**20, 1), "load_avg": os.getloadavg(),
            "python": platform.python_version(), "duckdb": duckdb.__version__,
            "commit": git("rev-parse", "--short", "HEAD") + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")}


def _fmt(rec: dict) -> tuple[str, ...]:
    """(median, min–max, cpu, peak) cells of a timing record; ratios and checks as text."""
    if "ratio" in rec:
        return (f"{rec['ratio']:.2f}x", "", "", "")
    if "equal" in rec:
        return ("equal" if rec["equal"] else "DIFFERENT", "", "", "")
    w = rec.get("wall_s") or []
    if not w:
        return ("", "", "", "")
    fmt = (lambda s: f"{s * 1000:.1f} ms") if max(w) < 1 else (lambda s: f"{s:.2f}")  # noqa: E731
    cpu = f"{statistics.median(rec['cpu_s']):.1f}" if rec.get("cpu_s") else ""
    peak = f"{max(rec['peak_rss_mib']):,.0f}" if rec.get("peak_rss_mib") else ""
    return (fmt(statistics.median(w)), f"{fmt(min(w))}–{fmt(max(w))}" if len(w) > 1 else "", cpu, peak)


HEAD = ("scenario", "measure", "calls", "runs", "median s", "min–max s", "CPU s", "peak RSS MiB", "note")


def rows(records: list[dict]) -> list[tuple[str, ...]]:
    out = []
    for r in records:
        calls = f"{r['calls']:,}" if r.get("calls") is not None else ""
        note = r.get("note", "") or ("" if "compare" not in r else
                                     f"{r['compare'].get('token_pnl_daily', {}).get('rows', 0)} + "
                                     f"{r['compare'].get('cost_per_verified_success', {}).get('rows', 0)} rows, "
                                     f"{r['compare'].get('quarantined')} quarantined")
        if not note and r.get("steps_s"):  # where a tokenpnl night goes (medians)
            short = {"ingest landing files": "ingest", "dbt build (models and tests)": "dbt", "Great Expectations audit": "GX",
                     "publish marts": "publish"}
            note = ", ".join(f"{short.get(k, k)} {statistics.median(v):.1f}" for k, v in r["steps_s"].items())
        out.append((r["scenario"], r["measure"], calls, str(r.get("runs", "")), *_fmt(r), note))
    return out


def markdown(records: list[dict]) -> str:
    lines = ["| " + " | ".join(HEAD) + " |", "|" + "|".join("---" for _ in HEAD) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows(records)]
    return "\n".join(lines)


def main(
    calls_per_day: Annotated[int, typer.Option(help="LLM calls per generated day.")] = 100_000,
    days: Annotated[int, typer.Option(help="Days of data (incremental: days already loaded before the new one).")] = 1,
    repeat: Annotated[int, typer.Option(help="Timed runs of each measure.")] = 3,
    scenario: Annotated[Scenario, typer.Option(help="What to measure.")] = Scenario.night,
    start: Annotated[str, typer.Option(help="First generated day, YYYY-MM-DD.")] = "2026-09-01",
    seed: Annotated[int, typer.Option(help="Generator seed.")] = 7,
    keep: Annotated[bool, typer.Option(help="Keep generated data and warehouses (reused by the next run).")] = False,
    data_dir: Annotated[Path, typer.Option(help="Where generated folders live.")] = HERE / "data",
    work_dir: Annotated[Path, typer.Option(help="Warehouses and floor outputs.")] = HERE / "work",
    results_dir: Annotated[Path, typer.Option(help="Where results.jsonl is appended.")] = HERE / "results",
    bi_runs: Annotated[int, typer.Option(help="Repetitions of each BI query.")] = 20,
    timeout: Annotated[float, typer.Option(help="Seconds before a single run is killed.")] = 7200,
    memory_limit: Annotated[str, typer.Option(help="spill: TOKENPNL_MEMORY_LIMIT of the run.")] = "1GB",
    published: Annotated[Path | None, typer.Option(help="bi: query this published file (e.g. a kept incremental "
                                                    "scenario's) instead of building one.")] = None,
) -> None:
    """Time the floor and tokenpnl on the same generated files; check their marts are equal."""
    if published is not None and not published.is_file():
        raise typer.BadParameter(f"{published} is not a file", param_hint="--published")
    bench = Bench(calls_per_day, days, repeat, date.fromisoformat(start), seed, work_dir.resolve(), data_dir.resolve(),
                  keep=keep, timeout=timeout, bi_runs=bi_runs, log=lambda s: console.print(s, highlight=False, markup=False))
    info = machine()
    console.print(f"machine: {info['cpu']}, {info['cores']} cores, {info['mem_gib']} GiB; load {info['load_avg']}")
    failed = None
    try:
        wanted = [s.value for s in Scenario if s is not Scenario.all] if scenario is Scenario.all else [scenario.value]
        warehouse = published
        for name in wanted:
            if name == "night":
                warehouse = bench.night()
            elif name == "bi":
                bench.bi(warehouse)
            elif name == "spill":
                bench.spill(memory_limit)
            else:
                getattr(bench, name)()
    except Exception as exc:  # keep what was measured; report the failure
        failed = f"{type(exc).__name__}: {exc}"
        console.print(f"[bold red]bench failed[/]: {failed}")
    finally:
        if not keep:
            for path in bench.created:
                shutil.rmtree(path, ignore_errors=True)
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    params = {"calls_per_day": calls_per_day, "days": days, "repeat": repeat, "scenario": scenario.value, "seed": seed, "start": start}
    results_dir.mkdir(parents=True, exist_ok=True)
    with open(results_dir / "results.jsonl", "a", encoding="utf-8") as fh:
        for rec in bench.records:
            fh.write(json.dumps({"at": stamp, **params, "machine": info, **rec}, default=str) + "\n")
        if failed:
            fh.write(json.dumps({"at": stamp, **params, "machine": info, "scenario": scenario.value, "measure": "failure",
                                 "error": failed[:4000]}) + "\n")
    table = Table(*HEAD, title=f"tokenpnl bench: {calls_per_day:,} calls/day x {days} day(s), {repeat} run(s)")
    for row in rows(bench.records):
        table.add_row(*row)
    Console(width=200).print(table)
    print(markdown(bench.records))
    unequal = [r for r in bench.records if "equal" in r and not r["equal"]]
    if failed or unequal:
        raise typer.Exit(1)


if __name__ == "__main__":
    typer.run(main)
