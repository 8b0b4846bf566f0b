"""A night does not hash again the landing files it loaded before (that would grow with the
history), yet a file replaced in place is still hashed and its new content loaded."""

from __future__ import annotations

import os

import duckdb
import pytest

import ingest.load
from tests.conftest import Landing
from tests.test_hostile_input import g1, load


@pytest.fixture
def hashed(monkeypatch) -> list[str]:
    """The files ingest hashed (the real hash, watched)."""
    seen: list[str] = []
    real = ingest.load.content_hash

    def watched(path):
        seen.append(path.name)
        return real(path)

    monkeypatch.setattr(ingest.load, "content_hash", watched)
    return seen


def test_files_loaded_before_are_not_hashed_again(tmp_path, hashed):
    landing = Landing(tmp_path)
    landing.gateway("a.jsonl", [g1("a1"), g1("a2")])
    landing.gateway("b.jsonl.gz", [g1("b1")], compress=True)
    assert load(landing).files_loaded == 2
    assert sorted(hashed) == ["a.jsonl", "b.jsonl.gz"]

    hashed.clear()
    landing.gateway("c.jsonl", [g1("c1")])
    report = load(landing)
    assert (report.files_loaded, report.files_skipped, hashed) == (1, 2, ["c.jsonl"])

    # A manifest written before the stamps existed: every file is hashed once more, and skipped.
    con = duckdb.connect(str(landing.db))
    con.execute("UPDATE raw.load_manifest SET file_size = NULL, file_mtime_ns = NULL, file_ctime_ns = NULL")
    con.close()
    hashed.clear()
    report = load(landing)
    assert (report.files_loaded, report.files_skipped, sorted(hashed)) == (0, 3, ["a.jsonl", "b.jsonl.gz", "c.jsonl"])
    assert sorted(r["call_id"] for r in landing.rows("SELECT call_id FROM raw.llm_calls")) == ["a1", "a2", "b1", "c1"]


def test_a_file_replaced_in_place_with_its_old_size_and_mtime_is_loaded_again(tmp_path, hashed):
    landing = Landing(tmp_path)
    path = landing.gateway("a.jsonl", [g1("x1")])
    load(landing)
    before = path.stat()
    landing.gateway("a.jsonl", [g1("y1")])  # same size
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # the old mtime, set back
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    assert after.st_ctime_ns != before.st_ctime_ns

    hashed.clear()
    assert load(landing).files_loaded == 1
    assert hashed == ["a.jsonl"]
    assert sorted(r["call_id"] for r in landing.rows("SELECT call_id FROM raw.llm_calls")) == ["x1", "y1"]
