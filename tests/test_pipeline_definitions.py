"""The Dagster code location: one Definitions, the nightly job, the 02:00 UTC schedule, the
vars passed to dbt, and the settings resolved from the environment."""

from __future__ import annotations

import os
import subprocess
from datetime import date, datetime, timedelta, timezone

import pytest
from dagster import BackfillPolicy, build_schedule_context

from pipelines.dbt import TokenpnlDbtTranslator, dbt_env, dbt_vars
from pipelines.definitions import defs, nightly_at_0200_utc
from pipelines.partitions import nights
from tokenpnl.settings import DAYS_AHEAD, Settings, first_day


def test_dbt_vars_carry_only_the_overrides_and_the_as_of_date_goes_by_environment():
    # --vars stay the same night after night (a change would make dbt parse everything again).
    assert dbt_vars({"revert_window_days": 7}) == ["--vars", '{"revert_window_days": 7}']
    assert dbt_vars({}) == [] and dbt_vars(None) == []
    assert dbt_env(date(2026, 11, 21))["TOKENPNL_AS_OF"] == "2026-11-21"
    assert dbt_env(None)["TOKENPNL_AS_OF"] == ""
    assert len(dbt_env(None)["TOKENPNL_DBT_CHECKSUM"]) == 64


def test_schedule_runs_at_0200_utc_for_yesterdays_partition():
    assert nightly_at_0200_utc.cron_schedule == "0 2 * * *" and nightly_at_0200_utc.execution_timezone == "UTC"
    ctx = build_schedule_context(scheduled_execution_time=datetime(2026, 11, 22, 2, 0, tzinfo=timezone.utc),
                                 repository_def=defs.get_repository_def())
    request = nightly_at_0200_utc.evaluate_tick(ctx).run_requests[0]
    assert request.partition_key == "2026-11-21" and request.run_key == "2026-11-21"


def test_every_asset_is_partitioned_by_night_and_backfills_go_in_chunks():
    job = defs.resolve_job_def("nightly")
    assert job.partitions_def == nights and nights.timezone == "UTC" and nights.start.date() == first_day()
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if node.is_materializable:
            assert node.partitions_def == nights, key
            assert node.backfill_policy == BackfillPolicy.multi_run(7), key
    today = datetime.now(timezone.utc).date()
    assert nights.get_last_partition_key() == (today + timedelta(days=DAYS_AHEAD)).isoformat()  # today and later days too


def test_the_cli_refuses_an_as_of_day_without_a_partition(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from tokenpnl.cli import app

    monkeypatch.setenv("TOKENPNL_FIRST_DAY", "2026-01-01")
    base = ["run", "--landing", str(tmp_path), "--warehouse", str(tmp_path / "w.duckdb"), "--as-of"]
    before = CliRunner().invoke(app, [*base, "2025-12-31"])
    assert before.exit_code == 2 and "before TOKENPNL_FIRST_DAY (2026-01-01)" in before.output
    too_far = (datetime.now(timezone.utc).date() + timedelta(days=DAYS_AHEAD + 1)).isoformat()
    future = CliRunner().invoke(app, [*base, too_far])
    assert future.exit_code == 2 and "days in the future" in future.output
    assert not (tmp_path / "w.duckdb").exists()


@pytest.mark.parametrize("name, value", [("TOKENPNL_BACKFILL_DAYS", "0"), ("TOKENPNL_FIRST_DAY", "yesterday"),
                                         ("TOKENPNL_MEMORY_LIMIT", "lots")])
def test_a_bad_setting_is_a_usage_error_naming_it(tmp_path, name, value):
    from tests.test_end_to_end import TOKENPNL

    proc = subprocess.run([TOKENPNL, "run", "--landing", str(tmp_path), "--warehouse", str(tmp_path / "w.duckdb"),
                           "--as-of", "2026-11-01"], env={**os.environ, name: value}, capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    assert "configuration error" in proc.stderr and name in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "w.duckdb").exists()


def test_one_job_whose_assets_join_into_one_lineage_graph():
    job = defs.resolve_job_def("nightly")
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {"raw/llm_calls", "staging/stg_gateway__llm_calls", "marts/fct_llm_calls", "audit/gx_validation",
            "published/marts"} <= keys
    assert job.executor_def.name == "in_process"
    # dbt sources resolve to the same keys the ingest asset materialises.
    props = {"resource_type": "source", "source_name": "raw", "name": "llm_calls"}
    assert TokenpnlDbtTranslator().get_asset_key(props).to_user_string() == "raw/llm_calls"


def test_settings_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("TOKENPNL_WAREHOUSE", str(tmp_path / "w" / "x.duckdb"))
    monkeypatch.setenv("TOKENPNL_VARS", '{"revert_window_days": 7}')
    monkeypatch.delenv("TOKENPNL_HMAC_KEY", raising=False)
    s = Settings.from_env()
    assert s.build_db == tmp_path / "w" / "x.build.duckdb" and s.dbt_vars == {"revert_window_days": 7}
    key = s.hmac_key()
    assert len(key) == 64 and s.hmac_key() == key  # generated once, then reused
    assert oct((tmp_path / "w" / ".tokenpnl_key").stat().st_mode & 0o777) == "0o600"
    monkeypatch.setenv("TOKENPNL_VARS", "[1]")
    with pytest.raises(ValueError, match="TOKENPNL_VARS must be a JSON object"):
        Settings.from_env()
    monkeypatch.setenv("TOKENPNL_VARS", "{}")
    assert Settings.from_env().memory_limit is None  # unset: DuckDB's default
    monkeypatch.setenv("TOKENPNL_MEMORY_LIMIT", "1.5GiB")
    assert Settings.from_env().memory_limit == "1.5GiB"
    monkeypatch.setenv("TOKENPNL_MEMORY_LIMIT", "80%")
    with pytest.raises(ValueError, match="TOKENPNL_MEMORY_LIMIT must be a size such as 2GB"):
        Settings.from_env()


@pytest.mark.slow
def test_a_run_with_dagster_home_is_recorded_and_uses_the_duckdb_pool(tmp_path):
    """dagster.yaml is read through DAGSTER_HOME: the run lands in its storage and the writing
    steps claim slots of the `tokenpnl_duckdb` pool of size 1."""
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    from tests.conftest import write_jsonl
    from tokenpnl.settings import PROJECT_ROOT

    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    landing = tmp_path / "landing"
    write_jsonl(landing / "gateway" / "a.jsonl", [{"request_id": "r1", "timestamp": "2026-11-03T10:00:00Z", "provider": "openai",
                                                   "model": "gpt-5", "usage": {"prompt_tokens": 10, "completion_tokens": 2}}])
    # Under a DuckDB memory limit (ingest and dbt's on-run-start hook apply it): the run still succeeds.
    env = {**os.environ, "DAGSTER_HOME": str(home), "TOKENPNL_MEMORY_LIMIT": "256MB"}
    proc = subprocess.run([str(Path(sys.executable).with_name("tokenpnl")), "run", "--landing", str(landing),
                           "--warehouse", str(tmp_path / "w.duckdb"), "--as-of", "2026-11-03"],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    check = subprocess.run([sys.executable, "-c", (
        "from dagster import DagsterInstance; i = DagsterInstance.get(); "
        "print(i.get_runs()[0].status.value, i.get_concurrency_config().pool_config.default_pool_limit, "
        "sorted(i.event_log_storage.get_concurrency_keys()))")], capture_output=True, text=True, env=env, timeout=120)
    assert check.stdout.strip() == "SUCCESS 1 ['tokenpnl_duckdb']", check.stderr


@pytest.mark.slow
def test_a_backfill_run_of_three_nights_publishes_as_of_the_last(tmp_path, monkeypatch):
    """A real Dagster run of a range of partitions, as a backfill chunk launches it: every step
    takes the range's last day as its as-of day. One call a day at 1 USD per Mtok input and
    2 USD output; a fourth call after the range stays out."""
    from decimal import Decimal

    from dagster import DagsterInstance
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

    from pipelines.dbt import ensure_manifest
    from tests.conftest import write_jsonl
    from tests.marts_compare import published_rows

    landing, warehouse = tmp_path / "landing", tmp_path / "wh" / "tokenpnl.duckdb"
    book = tmp_path / "book.csv"
    book.write_text("provider,model,effective_from,effective_to,input_usd_per_mtok,cache_read_usd_per_mtok,"
                    "cache_write_usd_per_mtok,cache_write_1h_usd_per_mtok,output_usd_per_mtok,reasoning_usd_per_mtok,tier,min_input_tokens\n"
                    "acme,m1,2026-01-01,,1.00,,,,2.00,,mid,\n")
    write_jsonl(landing / "gateway" / "calls.jsonl", [
        {"request_id": f"r{day}", "timestamp": f"2026-11-0{day}T10:00:00Z", "provider": "acme", "model": "m1",
         "usage": {"prompt_tokens": 1000 * day, "completion_tokens": 10 * day}} for day in (1, 2, 3, 4)])
    for name in ("TOKENPNL_AS_OF", "TOKENPNL_DBT_CHECKSUM"):  # the steps set them; restored after the test
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TOKENPNL_HMAC_KEY", "backfill-key")
    settings = Settings.from_env(landing=landing, warehouse=warehouse, price_books=(book,))
    monkeypatch.setenv("TOKENPNL_BUILD_DB", str(settings.build_db))
    warehouse.parent.mkdir(parents=True)
    ensure_manifest(settings.build_db, settings.dbt_vars)
    result = defs.resolve_job_def("nightly").execute_in_process(
        run_config={"resources": {"tokenpnl": {"config": {
            "landing": str(landing), "warehouse": str(warehouse), "price_books": [str(book)]}}}},
        instance=DagsterInstance.ephemeral(),
        tags={ASSET_PARTITION_RANGE_START_TAG: "2026-11-01", ASSET_PARTITION_RANGE_END_TAG: "2026-11-03"})
    assert result.success
    assert published_rows(warehouse, "SELECT as_of FROM marts.publication") == [(date(2026, 11, 3),)]
    # (1000 d x 1 + 10 d x 2) / 1e6 USD for d = 1, 2, 3
    assert published_rows(warehouse, "SELECT call_id, list_cost_usd FROM marts.fct_llm_calls ORDER BY call_id") == [
        ("r1", Decimal("0.00102")), ("r2", Decimal("0.00204")), ("r3", Decimal("0.00306"))]
