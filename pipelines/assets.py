"""The nightly job's assets: ingest -> dbt build (models and tests) -> GX audit -> publish.

Everything that writes the build database runs in the `tokenpnl_duckdb` pool (size 1), and
the marts reach the published warehouse only after dbt tests and GX suites have passed.
"""


import json
import os
import shutil
import threading
import time
import warnings
from pathlib import Path

import duckdb
from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    BetaWarning,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
    multi_asset,
)
from dagster_dbt import DbtCliResource, dbt_assets

from expectations import prepare as prepare_gx
from expectations import validate_build
from ingest.formats import raw_tables
from ingest.load import load_landing
from pipelines.dbt import MANIFEST, TokenpnlDbtTranslator, dbt_env, dbt_vars
from pipelines.partitions import as_of, backfill_policy, nights
from pipelines.resources import TokenpnlResource
from tokenpnl.publish import MARTS, moved_since, publish

POOL = "tokenpnl_duckdb"
# Chunked backfills (pipelines/partitions.py) use `backfill_policy`, a beta parameter in Dagster
# 1.13: its warning would reach the terminal on every `tokenpnl run`.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=BetaWarning)
# Every asset is partitioned by night (pipelines/partitions.py); every step sees the same as-of day.
NIGHTLY = {"partitions_def": nights, "backfill_policy": backfill_policy, "pool": POOL}
RAW_TABLES = (*raw_tables(), "price_book_rows", "provider_aliases", "fx_rates", "quarantine", "load_manifest")


@multi_asset(specs=[AssetSpec(["raw", t], group_name="ingest") for t in RAW_TABLES], **NIGHTLY)
def raw_tables(context: AssetExecutionContext, tokenpnl: TokenpnlResource):
    """Parse, validate and land every new file of the landing folder (one transaction per file)."""
    settings = tokenpnl.settings()
    settings.build_db.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(settings.build_db))
    try:
        if settings.memory_limit:  # dbt applies the same limit (dbt_project.yml on-run-start)
            con.execute(f"SET memory_limit = '{settings.memory_limit}'")
        report = load_landing(
            con, settings.landing, hmac_key=settings.hmac_key(), price_books=settings.all_price_books,
            alias_files=settings.all_alias_files, max_line_bytes=settings.max_line_bytes,
            max_uncompressed_bytes=settings.max_uncompressed_bytes,
            progress=context.log.info,
        )
        existing = {t for (t,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'raw'").fetchall()}
        rows = {t: con.execute(f"SELECT count(*) FROM raw.{t}").fetchone()[0] if t in existing else 0 for t in RAW_TABLES}
    finally:
        con.close()
    t = report.totals
    context.log.info(
        f"ingest: {report.files_loaded} new file(s), {report.files_skipped} already loaded; {t.records} records: "
        f"{t.loaded} loaded, {t.quarantined} quarantined, {t.skipped} skipped by design"
    )
    for t in RAW_TABLES:
        meta = {"rows": rows[t]}
        if t == "load_manifest":
            meta["this_run"] = MetadataValue.json(report.as_dict())
        yield MaterializeResult(asset_key=AssetKey(["raw", t]), metadata=meta)


@dbt_assets(manifest=MANIFEST, dagster_dbt_translator=TokenpnlDbtTranslator(), **NIGHTLY)
def warehouse_models(context: AssetExecutionContext, dbt: DbtCliResource, tokenpnl: TokenpnlResource):
    """dbt build: staging -> intermediate -> marts, with every dbt test blocking."""
    settings = tokenpnl.settings()
    os.environ["TOKENPNL_BUILD_DB"] = str(settings.build_db)  # profiles.yml reads it; dbt inherits our env
    # Unit tests of the SQL logic run in the test suite, not every night.
    os.environ.update(dbt_env(as_of(context)))  # the as-of day, outside --vars (see pipelines/dbt.py)
    args = ["build", "--exclude-resource-type", "unit_test", *dbt_vars(settings.dbt_vars)]
    threading.Thread(target=prepare_gx, daemon=True).start()  # GX's ~5 s import, while dbt builds
    invocation = dbt.cli(args, context=context)
    try:
        yield from invocation.stream()
    finally:
        # dagster-dbt gives every invocation its own target folder (compiled SQL, run results): ~20 MB a run.
        shutil.rmtree(invocation.target_path, ignore_errors=True)
        _remove_stale_target_folders(invocation.target_path.parent)


def _remove_stale_target_folders(target: Path, max_age_s: float = 86_400) -> None:
    """Folders left by killed runs (dbt targets, ensure_manifest's scratch parses). Only old ones:
    another warehouse's run may be using a fresh one."""
    cutoff = time.time() - max_age_s
    for folder in (*target.glob("warehouse_models-*"), *target.glob("parse-*")):
        if folder.is_dir() and folder.stat().st_mtime < cutoff:
            shutil.rmtree(folder, ignore_errors=True)


@asset(key=["audit", "gx_validation"], deps=[AssetKey(["marts", m]) for m in MARTS], group_name="publish", **NIGHTLY)
def gx_validation(context: AssetExecutionContext, tokenpnl: TokenpnlResource) -> MaterializeResult:
    """Great Expectations suites on the raw tables and the marts; a critical failure stops the
    run here, before anything is published."""
    settings = tokenpnl.settings()
    # The calls publish will replace (None: all of them); the published ones were audited before.
    only = None if tokenpnl.rebuild else moved_since(settings.build_db, settings.warehouse)
    report = validate_build(settings.build_db, quarantine_max_pct=settings.quarantine_max_pct, only=only,
                            memory_limit=settings.memory_limit)
    if not report.passed:
        raise Failure(description=report.summary())
    context.log.info(report.summary())
    return MaterializeResult(metadata={"checks": len(report.results), "summary": MetadataValue.md(report.summary())})


@asset(key=["published", "marts"], deps=[gx_validation], group_name="publish", **NIGHTLY)
def published_marts(context: AssetExecutionContext, tokenpnl: TokenpnlResource) -> MaterializeResult:
    """Atomically replace the warehouse file BI tools read with the audited marts."""
    settings = tokenpnl.settings()
    counts = publish(settings.build_db, settings.warehouse, as_of=as_of(context), run_id=context.run.run_id,
                     whole=tokenpnl.rebuild, memory_limit=settings.memory_limit)
    return MaterializeResult(metadata={"warehouse": str(settings.warehouse), **{f"rows.{k}": v for k, v in counts.items()}})
