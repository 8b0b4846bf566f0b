"""Reference tables users edit by hand: price books, provider aliases and FX rates.

They are small, so they are validated row by row and replaced whole on every run. A broken
price book fails the run with every bad row named: silently dropping a price row would
leave calls unpriced or, worse, priced by the wrong row.
"""

from __future__ import annotations

import csv
import gzip
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path

import duckdb
import pyarrow as pa

PRICE_COLUMNS = (
    "provider", "model", "effective_from", "effective_to", "input_usd_per_mtok", "cache_read_usd_per_mtok",
    "cache_write_usd_per_mtok", "cache_write_1h_usd_per_mtok", "output_usd_per_mtok", "reasoning_usd_per_mtok",
    "tier", "min_input_tokens",
)
_OPTIONAL_PRICES = ("cache_read_usd_per_mtok", "cache_write_usd_per_mtok", "cache_write_1h_usd_per_mtok", "reasoning_usd_per_mtok")
TIERS = ("frontier", "mid", "open_weight", "self_hosted", "")


class ReferenceDataError(ValueError):
    """A price book, alias or FX file is unusable; the message lists every problem."""


@dataclass(frozen=True)
class PriceRow:
    book_file: str
    book_rank: int
    line: int
    values: dict


def _read_csv(path: Path) -> list[dict[str, str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def _decimal(text: str, what: str, problems: list[str], where: str, places: int = 12) -> Decimal | None:
    if text.strip() == "":
        return None
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        problems.append(f"{where}: {what} {text!r} is not a decimal number")
        return None
    if not value.is_finite() or value < 0:
        problems.append(f"{where}: {what} must be a non-negative number")
    elif value.as_tuple().exponent < -places:  # type: ignore[operator]
        # Stored with `places` decimals: refuse rather than round silently.
        problems.append(f"{where}: {what} {text.strip()} has more than {places} decimal places")
    return value


def _date(text: str, what: str, problems: list[str], where: str) -> date | None:
    if text.strip() == "":
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        problems.append(f"{where}: {what} {text!r} is not a YYYY-MM-DD date")
        return None


def read_price_books(books: tuple[Path, ...]) -> list[PriceRow]:
    """Parse and validate books; rank 0 is the shipped default, higher ranks win."""
    rows: list[PriceRow] = []
    problems: list[str] = []
    for rank, path in enumerate(books):
        if not path.is_file():
            problems.append(f"{path}: price book not found")
            continue
        records = _read_csv(path)
        header = list(records[0].keys()) if records else []
        missing = [c for c in ("provider", "model", "effective_from", "input_usd_per_mtok", "output_usd_per_mtok") if records and c not in header]
        if missing:
            problems.append(f"{path}: missing column(s) {', '.join(missing)}")
            continue
        for i, rec in enumerate(records, start=2):
            where = f"{path.name}:{i}"
            rec = {k: (rec.get(k) or "").strip() for k in PRICE_COLUMNS}
            if not rec["provider"] or not rec["model"]:
                problems.append(f"{where}: provider and model are required")
            values = {"provider": rec["provider"].lower(), "model": rec["model"], "tier": rec["tier"] or None}
            values["effective_from"] = _date(rec["effective_from"], "effective_from", problems, where)
            values["effective_to"] = _date(rec["effective_to"], "effective_to", problems, where)
            if values["effective_from"] is None and not rec["effective_from"]:
                problems.append(f"{where}: effective_from is required")
            if values["effective_from"] and values["effective_to"] and values["effective_to"] <= values["effective_from"]:
                problems.append(f"{where}: effective_to must be after effective_from")
            for col in ("input_usd_per_mtok", "output_usd_per_mtok"):
                values[col] = _decimal(rec[col], col, problems, where)
                if values[col] is None and not rec[col]:
                    problems.append(f"{where}: {col} is required")
            for col in _OPTIONAL_PRICES:
                values[col] = _decimal(rec[col], col, problems, where)
            if rec["tier"] not in TIERS:
                problems.append(f"{where}: tier {rec['tier']!r} is not one of {', '.join(t for t in TIERS if t)}")
            threshold = rec["min_input_tokens"] or "0"
            if not threshold.isdigit():
                problems.append(f"{where}: min_input_tokens {threshold!r} is not a whole number")
                threshold = "0"
            values["min_input_tokens"] = int(threshold)
            rows.append(PriceRow(str(path), rank, i, values))
    problems += _overlaps(rows)
    if problems:
        raise ReferenceDataError("price book problems:\n  " + "\n  ".join(problems))
    return rows


def _overlaps(rows: list[PriceRow]) -> list[str]:
    """Two rows of one book for the same provider, model and threshold must not overlap in time."""
    problems = []
    groups: dict[tuple, list[PriceRow]] = {}
    for r in rows:
        key = (r.book_file, r.values["provider"], r.values["model"], r.values["min_input_tokens"])
        groups.setdefault(key, []).append(r)
    for (book, provider, model, _), members in groups.items():
        members.sort(key=lambda r: r.values["effective_from"] or date.min)
        for a, b in zip(members, members[1:]):
            a_to = a.values["effective_to"] or date.max
            if b.values["effective_from"] and b.values["effective_from"] < a_to:
                problems.append(f"{Path(book).name}:{a.line} and :{b.line}: overlapping prices for {provider}/{model}")
    return problems


def load_reference(con: duckdb.DuckDBPyConnection, price_books: tuple[Path, ...], alias_files: tuple[Path, ...],
                   fx_dir: Path | None) -> dict[str, int]:
    rows = read_price_books(price_books)
    aliases = _read_aliases(alias_files)
    fx = _read_fx(fx_dir)
    loaded_at = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
    con.execute("DELETE FROM raw.price_book_rows; DELETE FROM raw.provider_aliases; DELETE FROM raw.fx_rates;")
    # Bulk inserts through Arrow: executemany goes row by row and costs seconds per run.
    _insert(con, "raw.price_book_rows", ["book_file", "book_rank", "line", *PRICE_COLUMNS],
            [[r.book_file, r.book_rank, r.line] + [r.values[c] for c in PRICE_COLUMNS] for r in rows])
    _insert(con, "raw.provider_aliases", ["alias", "provider"], sorted(aliases.items()))
    _insert(con, "raw.fx_rates", ["day", "currency", "usd_per_unit", "source_file", "line", "loaded_at"],
            [(*r, loaded_at) for r in fx])
    return {"price_rows": len(rows), "aliases": len(aliases), "fx_rates": len(fx)}


def _insert(con: duckdb.DuckDBPyConnection, table: str, columns: list[str], rows: list) -> None:
    if not rows:
        return
    batch = pa.table({c: [r[i] for r in rows] for i, c in enumerate(columns)})  # noqa: F841 (read by DuckDB)
    con.execute(f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(columns)} FROM batch")


def _read_aliases(files: tuple[Path, ...]) -> dict[str, str]:
    aliases: dict[str, str] = {}
    for path in files:
        if not path.is_file():
            raise ReferenceDataError(f"{path}: provider alias file not found")
        for i, rec in enumerate(_read_csv(path), start=2):
            alias, provider = (rec.get("alias") or "").strip().lower(), (rec.get("provider") or "").strip().lower()
            if not alias or not provider:
                raise ReferenceDataError(f"{path.name}:{i}: alias and provider are both required")
            aliases[alias] = provider  # later files (the user's) override the shipped ones
    return aliases


def _read_fx(fx_dir: Path | None) -> list[tuple[date, str, Decimal, str, int]]:
    """(day, currency, rate, file relative to the landing folder, line) of every FX row. Two
    different rates for one day and currency are not refused here: dbt keeps the first and
    quarantines the other, and the `assert_fx_rates_unambiguous` test fails the run."""
    if fx_dir is None or not fx_dir.is_dir():
        return []
    out, problems = [], []
    for path in sorted(p for p in fx_dir.rglob("*") if p.is_file() and not p.is_symlink() and p.name.endswith((".csv", ".csv.gz"))):
        rel = f"{fx_dir.name}/{path.relative_to(fx_dir).as_posix()}"
        for i, rec in enumerate(_read_csv(path), start=2):
            where = f"fx_rates/{path.name}:{i}"
            day = _date(rec.get("day") or "", "day", problems, where)
            rate = _decimal(rec.get("usd_per_unit") or "", "usd_per_unit", problems, where, places=18)
            currency = (rec.get("currency") or "").strip().upper()
            if day and rate is not None and len(currency) == 3:
                out.append((day, currency, rate, rel, i))
            elif not problems:
                problems.append(f"{where}: day, currency and usd_per_unit are required")
    if problems:
        raise ReferenceDataError("FX rate problems:\n  " + "\n  ".join(problems))
    return out
