"""Configuration, resolved in one place from environment variables with embedded defaults.

Every process (CLI, Dagster, dbt, GX) reads the same absolute paths from here, so they can
never open different warehouse files (dbt-duckdb resolves relative paths against profiles.yml).
"""

from __future__ import annotations

import json
import os
import re
import secrets
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
PRICE_BOOK_DIR = PROJECT_ROOT / "models" / "price_books"
DEFAULT_PRICE_BOOK = PRICE_BOOK_DIR / "default.csv"
PROVIDER_ALIASES = PROJECT_ROOT / "models" / "provider_aliases.csv"


def _env_path(name: str, default: Path) -> Path:
    return Path(os.environ.get(name) or default).expanduser().resolve()


def _env_list(name: str) -> list[Path]:
    raw = os.environ.get(name, "")
    return [Path(p).expanduser().resolve() for p in raw.split(os.pathsep) if p.strip()]


class ConfigError(ValueError):
    """A TOKENPNL_* environment variable that cannot be used; the CLI prints it without a traceback."""


DAYS_AHEAD = 366  # the last partition: a year past today (pipelines/partitions.py)


def first_day() -> date:
    """The first night the Dagster job has a partition for (TOKENPNL_FIRST_DAY)."""
    raw = os.environ.get("TOKENPNL_FIRST_DAY") or "2000-01-01"
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ConfigError(f"TOKENPNL_FIRST_DAY must be a date such as 2024-01-01, not {raw!r}") from None


def backfill_days() -> int:
    """How many nights one run of a Dagster backfill covers (TOKENPNL_BACKFILL_DAYS, default 7)."""
    raw = (os.environ.get("TOKENPNL_BACKFILL_DAYS") or "7").strip()
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"TOKENPNL_BACKFILL_DAYS must be a whole number of days such as 7, not {raw!r}")
    return int(raw)


_MEMORY = re.compile(r"[0-9]+(\.[0-9]+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.I)


def _env_memory(name: str) -> str | None:
    """A DuckDB memory size such as 2GB or 1.5GiB; unset = DuckDB's default (80 % of RAM)."""
    raw = os.environ.get(name, "").strip()
    if raw and not _MEMORY.fullmatch(raw):
        raise ConfigError(f"{name} must be a size such as 2GB or 1500MiB, not {raw!r}")
    return raw or None


def _env_bytes(name: str, default: int) -> int:
    """A positive whole number of bytes, e.g. TOKENPNL_MAX_LINE_BYTES=16777216."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number of bytes such as {default}, not {raw!r}") from None
    if value < 1:
        raise ConfigError(f"{name} must be at least 1 byte, not {value}")
    return value


def _env_json(name: str) -> dict[str, object]:
    """Rule settings (windows, tolerances) as a JSON object, e.g. {"revert_window_days": 7}."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a JSON object such as {{\"revert_window_days\": 7}}: {exc}") from None
    if not isinstance(value, dict):
        raise ConfigError(f"{name} must be a JSON object such as {{\"revert_window_days\": 7}}")
    return value


@dataclass(frozen=True)
class Settings:
    """What one nightly run needs. Build with `Settings.from_env(**overrides)`."""

    warehouse: Path  # the published, read-only-for-BI DuckDB file
    landing: Path
    price_books: tuple[Path, ...] = ()  # user books; they win over the default book
    alias_files: tuple[Path, ...] = ()  # user provider-alias files, on top of the shipped one
    quarantine_max_pct: float = 1.0
    max_line_bytes: int = 8 * 1024 * 1024  # longer lines are quarantined one by one
    max_uncompressed_bytes: int = 16 * 1024**3  # a .gz file expanding past this is quarantined whole
    hmac_key_file: Path | None = None
    dbt_vars: dict[str, object] = field(default_factory=dict)
    # DuckDB's memory limit for ingest and dbt (TOKENPNL_MEMORY_LIMIT); beyond it DuckDB spills to
    # `<build file>.tmp/` rather than failing. None = DuckDB's default, 80 % of RAM.
    memory_limit: str | None = None

    @property
    def build_db(self) -> Path:
        """The working database: raw tables and dbt models live here; marts are published
        from it into `warehouse` only after every blocking check passed."""
        return self.warehouse.with_name(self.warehouse.stem + ".build.duckdb")

    @property
    def all_price_books(self) -> tuple[Path, ...]:
        return (DEFAULT_PRICE_BOOK, *self.price_books)

    @property
    def all_alias_files(self) -> tuple[Path, ...]:
        return (PROVIDER_ALIASES, *self.alias_files)

    def hmac_key(self) -> bytes:
        """Key for pseudonymising user identifiers: TOKENPNL_HMAC_KEY, else a local key
        generated on first use and kept (mode 600) beside the warehouse."""
        env_key = os.environ.get("TOKENPNL_HMAC_KEY")
        if env_key:
            return env_key.encode()
        path = self.hmac_key_file or self.warehouse.parent / ".tokenpnl_key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
        return path.read_text().strip().encode()

    @classmethod
    def from_env(cls, **overrides: object) -> "Settings":
        values: dict[str, object] = {
            "warehouse": _env_path("TOKENPNL_WAREHOUSE", Path.cwd() / "warehouse" / "tokenpnl.duckdb"),
            "landing": _env_path("TOKENPNL_LANDING", Path.cwd() / "landing"),
            "price_books": tuple(_env_list("TOKENPNL_PRICE_BOOKS")),
            "alias_files": tuple(_env_list("TOKENPNL_PROVIDER_ALIASES")),
            "quarantine_max_pct": float(os.environ.get("TOKENPNL_QUARANTINE_MAX_PCT", "1.0")),
            "max_line_bytes": _env_bytes("TOKENPNL_MAX_LINE_BYTES", 8 * 1024 * 1024),
            "max_uncompressed_bytes": _env_bytes("TOKENPNL_MAX_UNCOMPRESSED_BYTES", 16 * 1024**3),
            "dbt_vars": _env_json("TOKENPNL_VARS"),
            "memory_limit": _env_memory("TOKENPNL_MEMORY_LIMIT"),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        for key in ("warehouse", "landing"):
            values[key] = Path(values[key]).expanduser().resolve()  # type: ignore[arg-type]
        return cls(**values)  # type: ignore[arg-type]
