"""The dbt project as Dagster sees it: one DbtProject, asset keys mirroring schema.table, and
the run's parameters passed to dbt as vars through one small pure function."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from dagster import AssetKey
from dagster_dbt import DagsterDbtTranslator, DbtProject

from tokenpnl.settings import DBT_PROJECT_DIR

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
MANIFEST = dbt_project.manifest_path
# The dbt installed beside this Python, so an un-activated venv works too; the job starts it through
# `tokenpnl-dbt`, which makes dbt die with the run (tokenpnl/dbt_child.py).
DBT_EXECUTABLE = str(Path(sys.executable).with_name("dbt"))
DBT_CHILD_EXECUTABLE = str(Path(sys.executable).with_name("tokenpnl-dbt"))


def dbt_vars(as_of: date | None, overrides: Mapping[str, object] | None = None) -> dict[str, object]:
    """dbt vars for one run. Without as_of, dbt uses yesterday (UTC), as a nightly run would."""
    out: dict[str, object] = dict(overrides or {})
    if as_of is not None:
        out["as_of"] = as_of.isoformat()
    return out


class TokenpnlDbtTranslator(DagsterDbtTranslator):
    """Models become [schema, name] (marts/fct_llm_calls); sources [source, table] (raw/llm_calls),
    the same keys the ingest assets produce, so the lineage graph is one piece."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        return AssetKey([dbt_resource_props["config"].get("schema") or "main", dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return "warehouse"


def _newest_source_mtime() -> float:
    newest = 0.0
    for sub in ("models", "macros", "tests"):
        for path in (DBT_PROJECT_DIR / sub).rglob("*"):
            newest = max(newest, path.stat().st_mtime)
    for name in ("dbt_project.yml", "profiles.yml"):
        newest = max(newest, (DBT_PROJECT_DIR / name).stat().st_mtime)
    return newest


def ensure_manifest(build_db: Path | None = None) -> Path:
    """Parse the dbt project once, ahead of the run, when the manifest is missing or older than
    the project's files; every later run and every import reuses it."""
    if MANIFEST.exists() and MANIFEST.stat().st_mtime >= _newest_source_mtime():
        return MANIFEST
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    env.setdefault("TOKENPNL_BUILD_DB", str(build_db or Path.cwd() / "warehouse" / "tokenpnl.build.duckdb"))
    proc = subprocess.run(
        [DBT_EXECUTABLE, "parse", "--quiet", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)],
        env=env, capture_output=True, text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"dbt parse failed:\n{proc.stdout[-4000:]}{proc.stderr[-4000:]}")
    return MANIFEST
