"""DDL of the raw layer shared by all formats: what ingest lands, and nothing else (no prompt or
completion text). A format with a table of its own declares it in its module (`DDL`).

Raw tables are append-only; dbt staging de-duplicates them. Every row remembers the file and
line it came from, so any figure in the marts can be traced back to its input.
"""

from __future__ import annotations

import duckdb

MONEY = "DECIMAL(38,14)"
PRICE = "DECIMAL(24,12)"
LINEAGE = "_source_file VARCHAR NOT NULL, _line BIGINT NOT NULL, _file_hash VARCHAR NOT NULL, _loaded_at TIMESTAMP NOT NULL"

TOKEN_CLASSES = (
    "input_uncached_tokens",
    "input_cache_read_tokens",
    "input_cache_write_tokens",
    "input_cache_write_1h_tokens",
    "output_visible_tokens",
    "output_reasoning_tokens",
)

DDL = f"""
CREATE SCHEMA IF NOT EXISTS raw;

CREATE TABLE IF NOT EXISTS raw.load_manifest (
    file_path VARCHAR NOT NULL, file_hash VARCHAR NOT NULL, source_kind VARCHAR NOT NULL,
    source_format VARCHAR, records BIGINT NOT NULL, loaded BIGINT NOT NULL,
    quarantined BIGINT NOT NULL, skipped BIGINT NOT NULL, loaded_at TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS raw.quarantine (
    source_file VARCHAR NOT NULL, line BIGINT NOT NULL, source_kind VARCHAR NOT NULL,
    source_format VARCHAR, reason VARCHAR NOT NULL, raw_excerpt VARCHAR,
    file_hash VARCHAR NOT NULL, loaded_at TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS raw.llm_calls (
    call_id VARCHAR NOT NULL, source_format VARCHAR NOT NULL,
    occurred_at TIMESTAMP NOT NULL, ended_at TIMESTAMP NOT NULL,
    provider VARCHAR NOT NULL, model VARCHAR NOT NULL, api VARCHAR, status VARCHAR, latency_ms BIGINT,
    workflow_id VARCHAR, workflow_type VARCHAR, step VARCHAR, attempt INTEGER NOT NULL,
    team VARCHAR, user_key VARCHAR, tags VARCHAR, routed_from_model VARCHAR,
    {", ".join(f"{c} BIGINT NOT NULL" for c in TOKEN_CLASSES)},
    gateway_reported_cost_usd {MONEY}, api_key_pseudonym VARCHAR,
    {LINEAGE}
);

-- Configuration tables: replaced as a whole on every run (they are small and user-edited).
CREATE TABLE IF NOT EXISTS raw.price_book_rows (
    book_file VARCHAR NOT NULL, book_rank INTEGER NOT NULL, line BIGINT NOT NULL,
    provider VARCHAR NOT NULL, model VARCHAR NOT NULL,
    effective_from DATE NOT NULL, effective_to DATE,
    input_usd_per_mtok {PRICE} NOT NULL, cache_read_usd_per_mtok {PRICE},
    cache_write_usd_per_mtok {PRICE}, cache_write_1h_usd_per_mtok {PRICE},
    output_usd_per_mtok {PRICE} NOT NULL, reasoning_usd_per_mtok {PRICE},
    tier VARCHAR, min_input_tokens BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS raw.provider_aliases (alias VARCHAR NOT NULL, provider VARCHAR NOT NULL);

CREATE TABLE IF NOT EXISTS raw.fx_rates (
    day DATE NOT NULL, currency VARCHAR NOT NULL, usd_per_unit DECIMAL(38,18) NOT NULL,
    source_file VARCHAR, line BIGINT, loaded_at TIMESTAMP
);
-- The file's size and times when it was loaded (added later, hence ALTER): a night does not hash
-- again a file whose path, size and times are unchanged (ingest.load._fingerprint).
ALTER TABLE raw.load_manifest ADD COLUMN IF NOT EXISTS file_size BIGINT;
ALTER TABLE raw.load_manifest ADD COLUMN IF NOT EXISTS file_mtime_ns BIGINT;
ALTER TABLE raw.load_manifest ADD COLUMN IF NOT EXISTS file_ctime_ns BIGINT;
-- Lineage of FX rows came later (dbt names the file and line of a conflicting rate): a build
-- database created before gets the columns; the table is refilled on every run anyway.
ALTER TABLE raw.fx_rates ADD COLUMN IF NOT EXISTS source_file VARCHAR;
ALTER TABLE raw.fx_rates ADD COLUMN IF NOT EXISTS line BIGINT;
ALTER TABLE raw.fx_rates ADD COLUMN IF NOT EXISTS loaded_at TIMESTAMP;
"""


def sql_literal(value: str) -> str:
    """A SQL string literal of `value` (quotes doubled): for the few places that cannot bind a
    parameter (file paths in table functions, ATTACH, generated filters)."""
    return "'" + value.replace("'", "''") + "'"


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the raw layer: the shared tables here, then each format's own (its module's DDL)."""
    from ingest.formats import FORMATS

    con.execute(DDL)
    for fmt in FORMATS:
        if getattr(fmt, "DDL", None):
            con.execute(fmt.DDL)
