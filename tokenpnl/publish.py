"""Publish the audited marts: copy them from the build database into a fresh file and swap it
in atomically, so BI readers only ever see a complete publication and never block the run."""

from __future__ import annotations

import os
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb

from ingest.schema import sql_literal

MARTS = (
    "fct_llm_calls", "fct_workflows", "fct_outcomes", "token_pnl_daily", "cost_per_verified_success",
    "invoice_reconciliation", "exec_dashboard", "quarantine",
)


def publish(build_db: Path, warehouse: Path, *, as_of: date | None, run_id: str = "") -> dict[str, int]:
    """Write `warehouse` with schema `marts` (the tables of spec/marts.md plus `publication`).

    The new file is written beside the old one and renamed over it: a reader that has the old
    file open keeps reading the old publication; a crash before the rename changes nothing."""
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    tmp = warehouse.with_name(warehouse.name + ".tmp")
    tmp.unlink(missing_ok=True)
    counts: dict[str, int] = {}
    con = duckdb.connect(str(tmp))
    try:
        con.execute(f"ATTACH {sql_literal(str(build_db))} AS build (READ_ONLY)")
        con.execute("CREATE SCHEMA marts")
        for table in MARTS:
            con.execute(f"CREATE TABLE marts.{table} AS SELECT * FROM build.marts.{table}")
            counts[table] = con.execute(f"SELECT count(*) FROM marts.{table}").fetchone()[0]
        con.execute(
            "CREATE TABLE marts.publication AS SELECT ?::DATE AS as_of, ?::TIMESTAMP AS published_at, ? AS run_id",
            [as_of, datetime.now(timezone.utc).replace(tzinfo=None), run_id],
        )
        con.execute("DETACH build")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    os.replace(tmp, warehouse)
    return counts
