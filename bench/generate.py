"""Seeded, vectorised generator of a tokenpnl landing folder at any scale.

    python -m bench.generate --calls-per-day 1000000 --days 30 --start 2026-09-01 --out bench/data/x --seed 7

Every row is computed by DuckDB from range() and hash(seed, day, workflow, call, salt): no Python
loop over records, and each day is generated and written on its own, so memory stays bounded by
one day. Every value is a pure function of (seed, calls per day, start, day index): a folder of
D + 1 days holds exactly the files of the D-day folder plus the files that arrive on day D + 1,
which the incremental scenario relies on.

Layout (`OUT/landing`), one or a few files per day as gateways and receivers write them:

    gateway/YYYY/MM/DD/calls-0{1..4}.jsonl.gz  G1 gateway JSONL, one file per 6 hours
    gateway/YYYY/MM/DD/calls-00.jsonl.gz       earlier streaming versions and re-sent records
    gateway/otel/YYYY/MM/DD/traces.jsonl.gz    G2 OTLP/JSON, one export request per workflow
    gateway/litellm/YYYY/MM/DD/spend_logs.jsonl.gz  G3 LiteLLM spend logs
    outcomes/github/YYYY/MM/DD/deliveries.jsonl.gz  O1 webhook deliveries, by day received
    outcomes/events/YYYY/MM/DD/outcomes.jsonl.gz    O3 generic outcome events, by day received
    invoices/<biller>/YYYY-MM/focus_<biller>_YYYYMMDD.csv  I1 FOCUS month-to-date export, daily

plus `OUT/price_book.csv` (user book: negotiated and self-hosted prices; the rest of the models
are priced by tokenpnl's default book) and `OUT/manifest.json` (parameters, and the day each file
arrives on). The data is valid by construction: tokenpnl must quarantine nothing.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Annotated

import duckdb
import typer

from bench.gen_sql import G1_SELECT, LITELLM_SELECT, OTEL_SELECT, calls_sql, generic_sql, github_sql, macros, workflows_sql

GENERATOR_VERSION = 1  # bump when the data changes: the runner reuses a folder only of the same version
CALLS_PER_WORKFLOW = 8  # mean workflow size (4..12 calls)
ATTRIBUTED_SHARE = 0.97  # the rest of a day's calls carry no workflow_id

# Rough USD per Mtok (input, cache read, output), only to size the invoices near list cost.
INVOICE_RATES = {0: (3, 0.3, 15), 1: (0.9, 0.09, 4.5), 2: (2.7, 0.27, 16), 3: (0.7, 0.07, 4), 4: (1.4, 0.14, 11),
                 5: (0.3, 0.03, 2.5), 6: (0.6, 0.11, 2.2), 9: (0.2, 0.005, 0.64)}
# provider -> (folder slug, ProviderName, ServiceProviderName or None: no such column, ServiceName)
BILLERS = {
    "anthropic": ("bedrock", "AWS", "Anthropic", "Amazon Bedrock"),
    "openai": ("azure-openai", "Microsoft", "OpenAI", "Azure OpenAI Service"),
    "google": ("vertex", "Google", None, "Vertex AI"),
    "zhipu": ("zai", "Zhipu AI", "ZAI", "GLM API"),
    "deepseek": ("deepseek", "DeepSeek", "DeepSeek", "DeepSeek API"),
}
FOCUS_COLUMNS = [
    "BillingAccountId", "BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd",
    "ChargeCategory", "ChargeClass", "ChargeDescription", "ProviderName", "ServiceProviderName", "ServiceName",
    "SkuId", "ConsumedQuantity", "ConsumedUnit", "BilledCost", "EffectiveCost", "ListCost", "BillingCurrency",
    "InvoiceId", "RegionId",
]
PRICE_BOOK_HEADER = [
    "provider", "model", "effective_from", "effective_to", "input_usd_per_mtok", "cache_read_usd_per_mtok",
    "cache_write_usd_per_mtok", "cache_write_1h_usd_per_mtok", "output_usd_per_mtok", "reasoning_usd_per_mtok",
    "tier", "min_input_tokens",
]



@dataclass(frozen=True)
class Params:
    calls_per_day: int
    days: int
    start: date
    seed: int

    @property
    def workflows_per_day(self) -> int:  # constant per day: PR numbers are derived from it
        return max(1, round(self.calls_per_day * ATTRIBUTED_SHARE / CALLS_PER_WORKFLOW))

    @property
    def as_of(self) -> date:
        return self.start + timedelta(days=self.days - 1)

    def as_dict(self) -> dict:
        return {"calls_per_day": self.calls_per_day, "days": self.days, "start": self.start.isoformat(), "seed": self.seed}


def _copy(con: duckdb.DuckDBPyConnection, select: str, path: Path) -> int:
    """Write a query as gzipped JSON lines; no file for no rows (an empty file is not a delivery)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    con.execute(f"COPY ({select}) TO '{tmp}' (FORMAT json, COMPRESSION gzip)")
    if tmp.stat().st_size < 64 and not gzip.decompress(tmp.read_bytes()).strip():
        tmp.unlink()
        return 0
    tmp.rename(path)
    return 1


def write_price_book(p: Params, path: Path) -> None:
    """User book: negotiated haiku, gpt-5.4-mini re-priced on day 10, and the models no default
    book knows (glm-5.2, self-hosted qwen at its amortised GPU cost)."""
    since = min(p.start, date(2026, 1, 1)).isoformat()
    change = (p.start + timedelta(days=10)).isoformat()
    rows = [
        ["anthropic", "claude-haiku-4-5", since, "", "0.9", "0.09", "1.125", "1.8", "4.5", "", "mid", "0"],
        ["openai", "gpt-5.4-mini", since, change, "0.75", "0.075", "", "", "4.5", "", "mid", "0"],
        ["openai", "gpt-5.4-mini", change, "", "0.6", "0.06", "", "", "3.6", "", "mid", "0"],
        ["zhipu", "glm-5.2", since, "", "0.6", "0.11", "0.6", "", "2.2", "1.75", "open_weight", "0"],
        ["self_hosted", "qwen3.8-27b", since, "", "0.0812", "", "", "", "0.3247", "", "self_hosted", ""],
    ]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([PRICE_BOOK_HEADER, *rows])
    path.write_text(buf.getvalue(), encoding="utf-8")


def write_invoices(p: Params, landing: Path, usage: list[tuple], files: dict[str, str]) -> None:
    """FOCUS exports as cloud billing writes them: every day a month-to-date file per billed provider
    with one row per day and SKU (near list cost, +-3 % per provider-month) and a daily Tax row.
    Rows of earlier days are repeated verbatim in later files: an identical row counts once."""
    q = Decimal("1E-10")
    by_day: dict[tuple[str, date], list[Decimal]] = {}
    for day, provider, m, unc, cr, cw, out in usage:
        if provider not in BILLERS or m not in INVOICE_RATES:
            continue
        rin, rcr, rout = (Decimal(str(x)) for x in INVOICE_RATES[m])
        parts = by_day.setdefault((provider, day), [Decimal(0)] * 3)
        parts[0] += (Decimal(unc) * rin + Decimal(cw) * rin * Decimal("1.25")) / 1_000_000
        parts[1] += Decimal(cr) * rcr / 1_000_000
        parts[2] += Decimal(out) * rout / 1_000_000
    rows: dict[tuple[str, date], list[dict]] = {}  # (provider, day) -> that day's FOCUS rows
    for (provider, day), parts in sorted(by_day.items()):
        slug, pname, spname, service = BILLERS[provider]
        month = day.replace(day=1)
        nxt = (month + timedelta(days=32)).replace(day=1)
        # a deterministic +-3 % per provider-month (Python's str hash() is salted per process)
        factor = Decimal(1) + Decimal((p.seed * 7919 + month.toordinal() * 31 + sum(map(ord, provider)) * 17) % 601 - 300) / 10_000
        charges = [("Usage", f"{provider}-{sku}", sku.replace("-", " "), (share * factor).quantize(q, ROUND_HALF_UP))
                   for sku, share in zip(("input-tokens", "cached-input-tokens", "output-tokens"), parts) if share > 0]
        charges.append(("Tax", "TAX", "Sales tax", (sum(parts) * factor * Decimal("0.0825")).quantize(Decimal("0.01"), ROUND_HALF_UP)))
        rows[(provider, day)] = [{
            "BillingAccountId": f"acct-{slug}", "BillingPeriodStart": f"{month}T00:00:00Z", "BillingPeriodEnd": f"{nxt}T00:00:00Z",
            "ChargePeriodStart": f"{day}T00:00:00Z", "ChargePeriodEnd": f"{day + timedelta(days=1)}T00:00:00Z",
            "ChargeCategory": category, "ChargeClass": "", "ChargeDescription": desc, "ProviderName": pname,
            "ServiceProviderName": spname or "", "ServiceName": service, "SkuId": sku,
            "ConsumedQuantity": str(int(amount * 250_000)), "ConsumedUnit": "Tokens" if category == "Usage" else "Each",
            "BilledCost": format(amount, "f"), "EffectiveCost": format(amount, "f"),
            "ListCost": format((amount * Decimal("1.12")).quantize(q, ROUND_HALF_UP), "f"), "BillingCurrency": "USD",
            "InvoiceId": f"INV-{slug.upper()}-{month:%Y%m}", "RegionId": "us-east-1",
        } for category, sku, desc, amount in charges]
    for provider, (slug, _, spname, _) in BILLERS.items():
        columns = [c for c in FOCUS_COLUMNS if c != "ServiceProviderName" or spname]
        for d in range(p.days):
            day = p.start + timedelta(days=d)
            todate = [r for x in range(day.day) for r in rows.get((provider, day.replace(day=x + 1)), [])]
            if not todate:
                continue
            buf = io.StringIO()
            w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
            w.writeheader()
            w.writerows(todate)
            rel = f"invoices/{slug}/{day:%Y-%m}/focus_{slug}_{day:%Y%m%d}.csv"
            (landing / rel).parent.mkdir(parents=True, exist_ok=True)
            (landing / rel).write_text(buf.getvalue(), encoding="utf-8")
            files[rel] = day.isoformat()


def _write_day(con: duckdb.DuckDBPyConnection, p: Params, d: int, landing: Path, workers: int) -> tuple[dict[str, str], int]:
    """Generate day d's calls into table `calls` and write its gateway files; return (files, calls)."""
    day, w = p.start + timedelta(days=d), p.workflows_per_day
    # the calls of workflows, then single calls without a workflow to make up the day's count
    (in_wf,) = con.execute(f"SELECT sum(n) FROM ({workflows_sql(p, f'(SELECT {d}::BIGINT AS d) dd, range({w}) t(k)')})").fetchone()
    con.execute(f"CREATE OR REPLACE TABLE calls AS {calls_sql(p, d, w + max(0, p.calls_per_day - int(in_wf)))}")
    folder = f"{day:%Y/%m/%d}"
    # a streaming gateway logged 1 % of requests earlier with less output; 0.2 % are re-sent as they were
    partial = "CASE WHEN r_dup < 0.01 THEN {x} ELSE {y} END"
    jobs = {f"gateway/{folder}/calls-{part:02d}.jsonl.gz": G1_SELECT.format(vis="vis", rs="rs", where=f"part = {part}")
            for part in range(1, 5)}
    jobs |= {
        f"gateway/{folder}/calls-00.jsonl.gz": G1_SELECT.format(
            vis=partial.format(x="vis // 3", y="vis"), rs=partial.format(x="rs // 2", y="rs"),
            where="(r_dup < 0.01 AND api IN ('chat.completions', 'messages') OR r_dup >= 0.01 AND r_dup < 0.012)"),
        f"gateway/otel/{folder}/traces.jsonl.gz": OTEL_SELECT,
        f"gateway/litellm/{folder}/spend_logs.jsonl.gz": LITELLM_SELECT,
    }
    files = {rel: day.isoformat() for rel, ok in zip(jobs, _copy_all(con, jobs, landing, workers)) if ok}
    con.execute("INSERT INTO usage SELECT day, norm_provider, m, sum(unc), sum(cr), sum(cw), sum(vis + rs) FROM calls GROUP BY ALL")
    (count,) = con.execute("SELECT count(*) FROM calls").fetchone()
    con.execute("DROP TABLE calls")
    return files, count


def _write_outcomes(con: duckdb.DuckDBPyConnection, p: Params, spill: Path, landing: Path, workers: int) -> dict[str, str]:
    """Outcome events arrive up to ~20 days after their workflow: each origin day's events are
    spilled to Parquet partitioned by the day received, then written as one file per day received."""
    for name in ("github", "generic"):
        (spill / name).mkdir(parents=True)
    for d in range(p.days):
        for name, sql in (("github", github_sql(p, d)), ("generic", generic_sql(p, d))):
            con.execute(f"COPY ({sql}) TO '{spill / name}' (FORMAT parquet, PARTITION_BY (rday), FILENAME_PATTERN 'o{d}_{{uuid}}', APPEND)")
    jobs, days = {}, {}
    for name, folder, fname, order in (("github", "outcomes/github", "deliveries", "received_at, delivery_id"),
                                       ("generic", "outcomes/events", "outcomes", "occurred_at, outcome_id, status")):
        for part in sorted((spill / name).glob("rday=*")):
            rday = date.fromisoformat(part.name.split("=", 1)[1])
            rel = f"{folder}/{rday:%Y/%m/%d}/{fname}.jsonl.gz"
            jobs[rel], days[rel] = f"SELECT * EXCLUDE (rday) FROM read_parquet('{part}/*.parquet') ORDER BY {order}", rday.isoformat()
    return {rel: days[rel] for rel, ok in zip(jobs, _copy_all(con, jobs, landing, workers)) if ok}


def _copy_all(con: duckdb.DuckDBPyConnection, jobs: dict[str, str], landing: Path, workers: int) -> list[int]:
    """gzip writing is single-threaded per file: write several files side by side."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda job: _copy(con.cursor(), job[1], landing / job[0]), jobs.items()))


def generate(out: Path, p: Params, *, memory_limit: str = "12GB", threads: int | None = None, log=print) -> dict:
    """Write OUT/landing, OUT/price_book.csv and OUT/manifest.json; return the manifest. Memory is
    bounded by one day (~400 B per call, spilled to OUT/_tmp beyond `memory_limit`)."""
    out = Path(out)
    landing, spill = out / "landing", out / "_tmp"
    for path in (landing, spill):
        shutil.rmtree(path, ignore_errors=True)
    landing.mkdir(parents=True)
    spill.mkdir(parents=True)  # DuckDB creates only the last level of its temp_directory
    t0 = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{memory_limit}'; SET temp_directory = '{spill / 'duckdb'}'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    workers = threads or os.cpu_count() or 2
    con.execute(macros(p.seed))
    con.execute("CREATE TABLE usage (day DATE, provider VARCHAR, m INTEGER, unc HUGEINT, cr HUGEINT, cw HUGEINT, out HUGEINT)")
    files: dict[str, str] = {}
    calls_by_day: dict[str, int] = {}
    for d in range(p.days):
        day_files, calls_by_day[(p.start + timedelta(days=d)).isoformat()] = _write_day(con, p, d, landing, workers)
        files |= day_files
        log(f"  day {p.start + timedelta(days=d)}: {sum(calls_by_day.values()):,} calls so far ({time.perf_counter() - t0:.1f} s)")
    files |= _write_outcomes(con, p, spill / "events", landing, workers)
    write_invoices(p, landing, con.execute("SELECT * FROM usage ORDER BY ALL").fetchall(), files)
    con.close()
    shutil.rmtree(spill, ignore_errors=True)
    write_price_book(p, out / "price_book.csv")
    manifest = {**p.as_dict(), "generator": GENERATOR_VERSION, "as_of": p.as_of.isoformat(),
                "calls": sum(calls_by_day.values()), "calls_by_day": calls_by_day, "price_book": "price_book.csv", "files": dict(sorted(files.items())),
                "generated_in_s": round(time.perf_counter() - t0, 2)}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return manifest


def main(
    calls_per_day: Annotated[int, typer.Option(help="LLM calls per day (workflows of ~8 calls, 3 % unattributed).")] = 100_000,
    days: Annotated[int, typer.Option(help="Number of days.")] = 7,
    start: Annotated[str, typer.Option(help="First day, YYYY-MM-DD.")] = "2026-09-01",
    out: Annotated[Path, typer.Option(help="Output folder (landing/, price_book.csv, manifest.json).")] = Path("bench/data/sample"),
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    memory_limit: Annotated[str, typer.Option(help="DuckDB memory limit while generating (a 10M-call day needs ~8 GB).")] = "12GB",
) -> None:
    """Generate a seeded landing folder for benchmarks."""
    manifest = generate(out, Params(calls_per_day, days, date.fromisoformat(start), seed), memory_limit=memory_limit)
    print(f"{manifest['calls']:,} calls, {len(manifest['files'])} files, as of {manifest['as_of']} "
          f"in {manifest['generated_in_s']} s -> {out}")


if __name__ == "__main__":
    typer.run(main)
