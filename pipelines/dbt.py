"""The dbt project as Dagster sees it: one DbtProject, asset keys mirroring schema.table, the
manifest parsed once ahead of the runs, and the run's parameters for dbt (the deployment's vars
as `--vars`, the as-of day in the environment) through two small pure functions."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
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


def dbt_vars(overrides: Mapping[str, object] | None = None) -> list[str]:
    """The `--vars` arguments of every dbt command: only the deployment's overrides (TOKENPNL_VARS),
    the same each night, so dbt's partial parsing holds (the as-of day goes by dbt_env)."""
    return ["--vars", json.dumps(dict(overrides), sort_keys=True)] if overrides else []


def dbt_env(as_of: date | None) -> dict[str, str]:
    """Environment of one run: the as-of day (empty: dbt uses yesterday, as a nightly run would) and
    the project's checksum, which the incremental models keep beside what they built: new logic
    (a tokenpnl upgrade, an edited model or macro) rebuilds every call (macros/incremental.sql)."""
    return {"TOKENPNL_AS_OF": as_of.isoformat() if as_of else "", "TOKENPNL_DBT_CHECKSUM": project_checksum()}


def _project_files(*folders: str) -> list[Path]:
    """The dbt project's files under `folders` and its two YAML files at the top, in a stable order."""
    found = [path for sub in folders for path in sorted((DBT_PROJECT_DIR / sub).rglob("*")) if path.is_file()]
    return found + [DBT_PROJECT_DIR / "dbt_project.yml", DBT_PROJECT_DIR / "profiles.yml"]


@functools.cache
def project_checksum() -> str:
    """sha256 over the dbt project's models, macros and YAML files (names and contents)."""
    digest = hashlib.sha256()
    for path in _project_files("models", "macros"):
        digest.update(path.relative_to(DBT_PROJECT_DIR).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


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
    return max(path.stat().st_mtime for path in _project_files("models", "macros", "tests"))


def ensure_manifest(build_db: Path | None = None, overrides: Mapping[str, object] | None = None) -> Path:
    """Parse the dbt project once, ahead of the run, when the manifest is missing, older than the
    project's files or parsed with other `--vars`; every later run and every import reuses it, and
    dbt's own partial parsing (`partial_parse.msgpack`, copied into each run's target by
    dagster-dbt) skips the parse of a run whose `--vars` are the ones parsed with."""
    args = dbt_vars(overrides)
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    env.setdefault("TOKENPNL_BUILD_DB", str(build_db or Path.cwd() / "warehouse" / "tokenpnl.build.duckdb"))
    # dbt parses everything again when the vars or the profile (the build file's path) differ.
    parsed_with = json.dumps({"vars": args, "build_db": env["TOKENPNL_BUILD_DB"]})
    stamp = MANIFEST.with_name("tokenpnl_parsed_with.json")
    if (MANIFEST.exists() and MANIFEST.stat().st_mtime >= _newest_source_mtime()
            and stamp.exists() and stamp.read_text() == parsed_with):
        return MANIFEST
    # Parsed into a folder of its own, then renamed into place: a run starting meanwhile (another
    # warehouse on the same install) reads the old files or the new ones, never half of one.
    scratch = MANIFEST.parent / f"parse-{os.getpid()}"
    MANIFEST.parent.mkdir(parents=True, exist_ok=True)
    try:
        proc = subprocess.run(
            [DBT_EXECUTABLE, "parse", "--quiet", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
             "--target-path", str(scratch), *args],
            env=env, capture_output=True, text=True,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"dbt parse failed:\n{proc.stdout[-4000:]}{proc.stderr[-4000:]}")
        for name in ("partial_parse.msgpack", MANIFEST.name):  # the manifest last: its mtime marks the parse
            os.replace(scratch / name, MANIFEST.parent / name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    stamp.write_text(parsed_with)
    return MANIFEST
