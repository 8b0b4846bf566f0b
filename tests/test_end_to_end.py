"""The whole product path: a generated landing folder through `tokenpnl run` (real Dagster,
real dbt build and tests, real GX, real publish), every mart compared with the generator's
independently computed truth, to the last decimal. Then a re-run must change nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from tests.marts_compare import KEYS, differences, read_marts
from tokenpnl.demo_data import generate

pytestmark = pytest.mark.slow
TOKENPNL = str(Path(sys.executable).with_name("tokenpnl"))


def tokenpnl_run(landing: Path, warehouse: Path, as_of: date, *books: Path, env: dict | None = None,
                 command: str = "run") -> subprocess.CompletedProcess:
    args = [TOKENPNL, command, "--landing", str(landing), "--warehouse", str(warehouse), "--as-of", as_of.isoformat()]
    for book in books:
        args += ["--price-book", str(book)]
    return subprocess.run(args, capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=600)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    truth = generate(root / "data", seed=11, days=61, workflows_per_day=6)
    warehouse = root / "wh" / "tokenpnl.duckdb"
    proc = tokenpnl_run(truth.landing, warehouse, truth.as_of, truth.price_book, env={"TOKENPNL_HMAC_KEY": "e2e-key"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return truth, warehouse


@pytest.mark.parametrize("mart", list(KEYS))
def test_every_mart_equals_the_independent_computation(demo, mart):
    truth, warehouse = demo
    actual = read_marts(warehouse)
    assert truth.marts[mart], f"the generator produced no {mart} rows"
    assert differences(mart, truth.marts[mart], actual[mart]) == []


def test_quarantine_holds_exactly_the_planted_bad_records(demo):
    truth, warehouse = demo
    rows = read_marts(warehouse)["quarantine"]
    assert sorted((r["source_file"], r["line"]) for r in rows) == sorted(truth.quarantined)
    assert all(r["reason"] and r["loaded_at"] for r in rows)


def test_published_file_is_readable_read_only_and_holds_only_marts(demo):
    _, warehouse = demo
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = con.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall()
        (as_of,) = con.execute("SELECT as_of FROM marts.publication").fetchone()
    finally:
        con.close()
    # Beside the marts, only the fingerprints the publication was built from (tokenpnl/publish.py).
    assert {s for s, _ in tables} == {"marts", "meta"} and as_of == demo[0].as_of
    assert [t for s, t in tables if s == "meta"] == ["published_increments"]


def test_second_run_on_the_same_folder_changes_nothing(demo):
    truth, warehouse = demo
    before = read_marts(warehouse)
    proc = tokenpnl_run(truth.landing, warehouse, truth.as_of, truth.price_book, env={"TOKENPNL_HMAC_KEY": "e2e-key"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    after = read_marts(warehouse)
    for mart in before:
        key = KEYS.get(mart, ("source_file", "line"))
        assert sorted(before[mart], key=lambda r: tuple(map(str, (r[k] for k in key)))) == \
            sorted(after[mart], key=lambda r: tuple(map(str, (r[k] for k in key)))), mart


def test_dbt_unit_tests_of_the_money_math_and_verdicts_pass(demo):
    """dbt unit tests need their parents' relations to exist: run them on the e2e build database."""
    _, warehouse = demo
    from tokenpnl.settings import DBT_PROJECT_DIR

    build_db = warehouse.with_name(warehouse.stem + ".build.duckdb")
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("dbt")), "test", "--select", "test_type:unit",
         "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)],
        capture_output=True, text=True, env={**os.environ, "TOKENPNL_BUILD_DB": str(build_db)}, timeout=300,
    )
    assert proc.returncode == 0 and "ERROR=0" in proc.stdout and "PASS=0" not in proc.stdout, proc.stdout[-3000:]
