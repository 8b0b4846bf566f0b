"""Shared fixtures: real DuckDB files, real ingest, and landing folders written from Python data."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import duckdb
import pytest

from ingest.load import LoadReport, load_landing
from tokenpnl.settings import DEFAULT_PRICE_BOOK, PROVIDER_ALIASES

HMAC_KEY = b"test-key-not-secret"


def write_jsonl(path: Path, records: list, *, compress: bool = False) -> Path:
    """Write records (dicts are JSON-encoded, strings written as they are) one per line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)
    if compress:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


class Landing:
    """A landing folder in a temp dir plus its build database, loaded by the real ingest."""

    def __init__(self, root: Path):
        self.root = root / "landing"
        self.root.mkdir()
        self.db = root / "build.duckdb"

    def gateway(self, name: str, records: list, **kw) -> Path:
        return write_jsonl(self.root / "gateway" / name, records, **kw)

    def outcomes(self, name: str, records: list, **kw) -> Path:
        return write_jsonl(self.root / "outcomes" / name, records, **kw)

    def invoice_csv(self, name: str, text: str) -> Path:
        path = self.root / "invoices" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def load(self, price_books: tuple[Path, ...] = ()) -> LoadReport:
        con = duckdb.connect(str(self.db))
        try:
            return load_landing(con, self.root, hmac_key=HMAC_KEY, price_books=(DEFAULT_PRICE_BOOK, *price_books),
                                alias_files=(PROVIDER_ALIASES,))
        finally:
            con.close()

    def rows(self, sql: str) -> list[dict]:
        con = duckdb.connect(str(self.db), read_only=True)
        try:
            cur = con.execute(sql)
            cols = [d[0] for d in cur.description]
            return [dict(zip(cols, r)) for r in cur.fetchall()]
        finally:
            con.close()


@pytest.fixture
def landing(tmp_path: Path) -> Landing:
    return Landing(tmp_path)
