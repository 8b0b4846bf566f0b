"""Compare published marts with a generator's independently computed truth, to the last decimal."""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path

import duckdb

KEYS = {
    "fct_llm_calls": ("source_format", "call_id"),
    "fct_workflows": ("workflow_id",),
    "fct_outcomes": ("outcome_id",),
    "token_pnl_daily": ("day", "team", "workflow_type", "provider", "model"),
    "cost_per_verified_success": ("month", "workflow_type", "team"),
    "invoice_reconciliation": ("provider", "month"),
    "exec_dashboard": ("month",),
}


def published_rows(warehouse: Path, sql: str) -> list[tuple]:
    """Rows of a query on the published file, opened read-only as a BI tool would."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def build_rows(warehouse: Path, sql: str) -> list[tuple]:
    """Rows of a query on the build database beside `warehouse` (raw tables, models, stored test failures)."""
    return published_rows(warehouse.with_name(warehouse.stem + ".build.duckdb"), sql)


def read_marts(warehouse: Path) -> dict[str, list[dict]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        out = {}
        for mart in (*KEYS, "quarantine"):
            cur = con.execute(f"SELECT * FROM marts.{mart}")
            cols = [d[0] for d in cur.description]
            out[mart] = [dict(zip(cols, r)) for r in cur.fetchall()]
        return out
    finally:
        con.close()


def same(expected: object, actual: object) -> bool:
    if expected is None or actual is None:
        return expected is None and actual is None
    if isinstance(expected, float) or isinstance(actual, float):
        return math.isclose(float(expected), float(actual), rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(expected, Decimal) or isinstance(actual, Decimal):
        return Decimal(str(expected)) == Decimal(str(actual))  # exact: 1.50 == 1.50000000000000
    return expected == actual


def differences(mart: str, expected_rows: list[dict], actual_rows: list[dict], limit: int = 20) -> list[str]:
    key = KEYS[mart]
    actual = {tuple(r[k] for k in key): r for r in actual_rows}
    problems = []
    if len(actual) != len(actual_rows):
        problems.append(f"{mart}: duplicate keys in the warehouse")
    expected_keys = set()
    for row in expected_rows:
        k = tuple(row[c] for c in key)
        expected_keys.add(k)
        got = actual.get(k)
        if got is None:
            problems.append(f"{mart} {k}: missing from the warehouse")
            continue
        for col, want in row.items():
            if col not in got:
                problems.append(f"{mart}: column {col} missing")
            elif not same(want, got[col]):
                problems.append(f"{mart} {k}.{col}: expected {want!r}, got {got[col]!r}")
    for k in actual.keys() - expected_keys:
        problems.append(f"{mart} {k}: in the warehouse but not expected")
    return problems[:limit] + ([f"... {len(problems) - limit} more"] if len(problems) > limit else [])
