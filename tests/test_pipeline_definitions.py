"""The Dagster code location: one Definitions, the nightly job, the 02:00 UTC schedule, the
vars passed to dbt, and the settings resolved from the environment."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from dagster import build_schedule_context

from pipelines.dbt import TokenpnlDbtTranslator, dbt_env, dbt_vars
from pipelines.definitions import defs, nightly_at_0200_utc
from tokenpnl.settings import Settings


def test_dbt_vars_carry_only_the_overrides_and_the_as_of_date_goes_by_environment():
    # --vars stay the same night after night (a change would make dbt parse everything again).
    assert dbt_vars({"revert_window_days": 7}) == ["--vars", '{"revert_window_days": 7}']
    assert dbt_vars({}) == [] and dbt_vars(None) == []
    assert dbt_env(date(2026, 11, 21))["TOKENPNL_AS_OF"] == "2026-11-21"
    assert dbt_env(None)["TOKENPNL_AS_OF"] == ""
    assert len(dbt_env(None)["TOKENPNL_DBT_CHECKSUM"]) == 64


def test_schedule_runs_at_0200_utc_for_yesterday():
    assert nightly_at_0200_utc.cron_schedule == "0 2 * * *" and nightly_at_0200_utc.execution_timezone == "UTC"
    ctx = build_schedule_context(scheduled_execution_time=datetime(2026, 11, 22, 2, 0, tzinfo=timezone.utc))
    request = nightly_at_0200_utc.evaluate_tick(ctx).run_requests[0]
    assert request.run_config == {"resources": {"tokenpnl": {"config": {"as_of": "2026-11-21"}}}}


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
