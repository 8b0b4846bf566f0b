"""A BI client in its own process: reads the published warehouse read-only in a loop while a
nightly run republishes it, and records what it saw.

    python bi_reader.py fresh|held WAREHOUSE STOP_FILE OUT_JSON

Each read takes three figures with three separate statements (calls, the sum of list_cost_usd,
the calls summed over token_pnl_daily): a complete publication gives a consistent triple, a
mixed or half-written one would not.

fresh: every iteration opens a new read-only connection, reads, closes it.
held:  one read-only connection is opened first and held for the whole time; each iteration
       reads through it, and also through a new connection opened in this same process (which
       DuckDB serves from the database instance the held connection keeps open). Once, mid-way,
       it tries to write through the held connection.

It stops a few iterations after STOP_FILE appears and writes what it saw to OUT_JSON.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import duckdb

QUERIES = (
    "SELECT count(*) FROM marts.fct_llm_calls",
    "SELECT sum(list_cost_usd)::VARCHAR FROM marts.fct_llm_calls",
    "SELECT sum(calls)::BIGINT FROM marts.token_pnl_daily",
)
WRITES = (
    "CREATE TABLE marts.bi_scratch AS SELECT 1 AS x",
    "INSERT INTO marts.fct_llm_calls SELECT * FROM marts.fct_llm_calls LIMIT 1",
    "DELETE FROM marts.fct_llm_calls",
    "DROP TABLE marts.quarantine",
)


def figures(con: duckdb.DuckDBPyConnection) -> list:
    return [con.execute(q).fetchone()[0] for q in QUERIES]


def read_fresh(warehouse: str) -> list:
    con = duckdb.connect(warehouse, read_only=True)
    try:
        return figures(con)
    finally:
        con.close()


def main() -> None:
    mode, warehouse, stop, out = sys.argv[1], sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])
    seen: dict[str, list] = {"fresh": [], "held": [], "fresh_beside_held": []}
    errors: list[str] = []
    write_attempts: list[dict] = []
    held = duckdb.connect(warehouse, read_only=True) if mode == "held" else None
    seen["held" if held else "fresh"].append(figures(held) if held else read_fresh(warehouse))
    print("ready", flush=True)
    after_stop = iterations = 0
    while after_stop < 5:
        iterations += 1
        reads = [("held", lambda: figures(held)), ("fresh_beside_held", lambda: read_fresh(warehouse))] if held \
            else [("fresh", lambda: read_fresh(warehouse))]
        for kind, read in reads:
            try:
                seen[kind].append(read())
            except Exception as exc:  # noqa: BLE001 - every error is a finding
                errors.append(f"{kind}, iteration {iterations}: {type(exc).__name__}: {exc}")
        if held is not None and iterations == 20:
            for sql in WRITES:
                try:
                    held.execute(sql)
                    write_attempts.append({"sql": sql, "error": None})
                except Exception as exc:  # noqa: BLE001 - expected: read-only
                    write_attempts.append({"sql": sql, "error": f"{type(exc).__name__}: {exc}"})
        if stop.exists():
            after_stop += 1
        time.sleep(0.02)
    if held is not None:
        held.close()
    out.write_text(json.dumps({**seen, "errors": errors, "write_attempts": write_attempts, "iterations": iterations}))


if __name__ == "__main__":
    main()
