"""The one Dagster entry point: `dagster dev -m pipelines.definitions` (with DAGSTER_HOME set)."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from dagster import (
    AssetSelection,
    Definitions,
    colored_console_logger,
    RunRequest,
    ScheduleEvaluationContext,
    define_asset_job,
    in_process_executor,
    schedule,
)

from pipelines.dbt import DBT_CHILD_EXECUTABLE, dbt_project, ensure_manifest
from tokenpnl.settings import Settings

# A no-op unless the dbt project, TOKENPNL_VARS or the build file changed since the last parse.
_settings = Settings.from_env()
ensure_manifest(Path(os.environ.get("TOKENPNL_BUILD_DB") or _settings.build_db), _settings.dbt_vars)

from pipelines.assets import gx_validation, published_marts, raw_tables, warehouse_models  # noqa: E402
from pipelines.progress import progress_logger  # noqa: E402
from pipelines.resources import TokenpnlDbtCli, TokenpnlResource  # noqa: E402

# One process runs the steps in order: cheaper than a process per step, and the steps share
# one DuckDB file that only one process may write at a time anyway.
nightly = define_asset_job("nightly", selection=AssetSelection.all(), executor_def=in_process_executor)


@schedule(job=nightly, cron_schedule="0 2 * * *", execution_timezone="UTC")
def nightly_at_0200_utc(context: ScheduleEvaluationContext) -> RunRequest:
    """At 02:00 UTC the run covers yesterday: the partition of the scheduled day minus one."""
    as_of = (context.scheduled_execution_time - timedelta(days=1)).date().isoformat()
    return RunRequest(run_key=as_of, partition_key=as_of)


defs = Definitions(
    assets=[raw_tables, warehouse_models, gx_validation, published_marts],
    jobs=[nightly],
    schedules=[nightly_at_0200_utc],
    loggers={"console": colored_console_logger, "progress": progress_logger},
    resources={
        "tokenpnl": TokenpnlResource(),
        "dbt": TokenpnlDbtCli(project_dir=dbt_project, dbt_executable=DBT_CHILD_EXECUTABLE),
    },
)
