"""Load a landing folder into the raw tables of the build database.

Each file is loaded in its own transaction together with its manifest row, so a crash
leaves every file either fully loaded or not at all, and a re-run picks up where it stopped.
A file whose content hash was loaded before is skipped, whatever its name.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from pathlib import Path

import duckdb

from ingest import formats
from ingest.context import Counts, LoadContext, install_macros, line_ceiling, quarantine_file
from ingest.files import (
    LandingFile,
    content_hash,
    csv_header,
    discover,
    first_record,
    gzip_problem,
    json_document,
    text_problem,
)
from ingest.reference import load_reference
from ingest.schema import ensure_schema


@dataclass
class LoadReport:
    files_seen: int = 0
    files_loaded: int = 0
    files_skipped: int = 0  # same content loaded before
    totals: Counts = field(default_factory=Counts)
    by_format: dict[str, Counts] = field(default_factory=dict)
    reference: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "files_seen": self.files_seen, "files_loaded": self.files_loaded, "files_skipped": self.files_skipped,
            **{k: getattr(self.totals, k) for k in ("records", "loaded", "quarantined", "skipped")},
            "by_format": {k: vars(v) for k, v in self.by_format.items()}, **self.reference,
        }


def load_landing(
    con: duckdb.DuckDBPyConnection,
    landing: Path,
    *,
    hmac_key: bytes,
    price_books: tuple[Path, ...],
    alias_files: tuple[Path, ...],
    max_line_bytes: int = 8 * 1024 * 1024,
    max_uncompressed_bytes: int = 16 * 1024**3,
    progress: Callable[[str], None] | None = None,
) -> LoadReport:
    if not landing.is_dir():
        raise FileNotFoundError(f"landing folder {landing} does not exist (expected gateway/, invoices/, outcomes/ inside)")
    ensure_schema(con)
    install_macros(con, hmac_key)
    report = LoadReport()
    con.execute("BEGIN")
    report.reference = load_reference(con, price_books, alias_files, landing / "fx_rates")
    con.execute("COMMIT")

    loaded_at = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
    files, rejected = discover(landing)
    known = {h for (h,) in con.execute("SELECT DISTINCT file_hash FROM raw.load_manifest").fetchall()}
    stamped = {(path, *stamp): h for path, h, *stamp in con.execute(
        "SELECT file_path, file_hash, file_size, file_mtime_ns, file_ctime_ns FROM raw.load_manifest WHERE file_size IS NOT NULL"
    ).fetchall()}
    rejected_known = {(f, r) for f, r in con.execute("SELECT source_file, reason FROM raw.quarantine WHERE line = 0").fetchall()}
    for rej in rejected:
        if (rej.rel, rej.reason) not in rejected_known:  # report a rejected path once, not every night
            ctx = LoadContext(con, LandingFile(landing / rej.rel, rej.rel, rej.kind), "-", loaded_at, max_line_bytes)
            quarantine_file(ctx, rej.reason)
            report.totals.quarantined += 1
    report.files_seen = len(files)
    # The Python passes over each file (its hash; for a new gzip file the check of its stream) run
    # ahead in a thread, beside DuckDB's work on the files before it: hashlib and zlib release the GIL.
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tokenpnl-fingerprint")
    try:
        check = partial(_fingerprint, known=frozenset(known), stamped=stamped, max_uncompressed_bytes=max_uncompressed_bytes)
        for i, (f, fp) in enumerate(zip(files, pool.map(check, files)), start=1):
            if fp.digest in known:  # also a copy of a file loaded earlier in this run
                report.files_skipped += 1
                continue
            if progress:
                progress(f"[{i}/{len(files)}] {f.rel}")
            _load_one(LoadContext(con, f, fp.digest, loaded_at, max_line_bytes), fp, report)
            known.add(fp.digest)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return report


@dataclass(frozen=True)
class Fingerprint:
    digest: str  # SHA-256 of the content
    stamp: tuple[int, int, int]  # size, mtime and ctime in ns, taken before hashing
    unreadable: str | None  # why a new gzip file must not be read (gzip_problem)


def _fingerprint(f: LandingFile, *, known: frozenset[str], stamped: dict[tuple, str],
                 max_uncompressed_bytes: int) -> Fingerprint:
    """A file's hash, and for a new compressed file the check of its stream (expanded size,
    truncation, CRC) before anything reads it. A file loaded before under the same path, size and
    times is not hashed again: hashing the whole landing folder every night would grow with the
    history. Rewriting a file moves its ctime, which no copy or `touch` can set back, so a file
    replaced in place is hashed, and loaded if its content is new."""
    st = f.path.stat()
    stamp = (st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    digest = stamped.get((f.rel, *stamp)) or content_hash(f.path)
    unreadable = gzip_problem(f.path, max_uncompressed_bytes) if f.compressed and digest not in known else None
    return Fingerprint(digest, stamp, unreadable)


def _load_one(ctx: LoadContext, fp: Fingerprint, report: LoadReport) -> None:
    """Load one file with its manifest row in one transaction."""
    con, f = ctx.con, ctx.file
    con.execute("BEGIN")
    try:
        detected: list[str] = []
        try:
            if fp.unreadable:
                fmt_name, counts = None, quarantine_file(ctx, fp.unreadable)
            else:
                fmt_name, counts = _load_file(ctx, detected)
        except duckdb.Error as exc:  # unreadable: a line over the hard ceiling, not UTF-8, broken CSV
            con.execute("ROLLBACK")
            con.execute("BEGIN")
            fmt_name = detected[0] if detected else None
            counts = quarantine_file(ctx, _unreadable_reason(exc, ctx, detected), fmt_name)
        con.execute(
            "INSERT INTO raw.load_manifest (file_path, file_hash, source_kind, source_format, records, loaded, quarantined, "
            "skipped, loaded_at, file_size, file_mtime_ns, file_ctime_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [f.rel, ctx.file_hash, f.kind, fmt_name, counts.records, counts.loaded, counts.quarantined, counts.skipped,
             ctx.loaded_at, *fp.stamp],
        )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    report.files_loaded += 1
    report.totals.add(counts)
    report.by_format.setdefault(fmt_name or "unrecognised", Counts()).add(counts)


def _load_file(ctx: LoadContext, detected: list[str]) -> tuple[str | None, Counts]:
    """Recognise and load one file; `detected` receives (format name, layout) once known."""
    f = ctx.file
    layout, sample = _sample(f, ctx.max_line_bytes)
    fmt = formats.detect(layout, sample)
    if fmt is None:
        reason = text_problem(f) or f"content matches no known {f.kind} format (see docs/formats.md)"
        return None, quarantine_file(ctx, reason)
    if fmt.KIND != f.kind:
        return fmt.NAME, quarantine_file(ctx, f"looks like {fmt.NAME}, which belongs in {fmt.KIND}/, not {f.kind}/", fmt.NAME)
    detected[:] = [fmt.NAME, layout]
    return fmt.NAME, fmt.load(ctx, sample)


def _sample(f: LandingFile, max_line_bytes: int) -> tuple[str, dict | list[str] | None]:
    """How the file is laid out, and what its format is recognised from (a line over the
    size cap is not sampled: the loader quarantines it)."""
    if f.inner_suffix == ".csv":
        return "csv", csv_header(f, max_line_bytes)
    record = first_record(f, first_only=f.inner_suffix == ".json", max_line_bytes=max_line_bytes)
    if record is not None or f.inner_suffix != ".json":
        return "jsonl", record
    return "json", json_document(f)


_LINE_TOO_LONG = re.compile(r"CSV Error on Line: (\d+).*Maximum line size of (\d+) bytes exceeded\. Actual Size:\s*(\d+)", re.S)
_NOT_UTF8 = re.compile(r"CSV Error on Line: (\d+).*Invalid unicode", re.S)


def _unreadable_reason(exc: Exception, ctx: LoadContext, detected: list[str]) -> str:
    """A clear reason for a file DuckDB could not read; never any of the file's content (DuckDB's
    message quotes the offending line, so only its first line or the parsed numbers are used)."""
    text = str(exc)
    csv = len(detected) > 1 and detected[1] == "csv"
    if m := _LINE_TOO_LONG.search(text):
        line, size = m.group(1), m.group(3)
        if csv:
            return (f"line {line} of {size} bytes exceeds the cap of {ctx.max_line_bytes} bytes "
                    "(TOKENPNL_MAX_LINE_BYTES); a CSV file is quarantined whole")
        return (f"line {line} of {size} bytes exceeds the hard ceiling of {line_ceiling(ctx.max_line_bytes)} bytes "
                "(4 × TOKENPNL_MAX_LINE_BYTES, at least 64 MiB); the whole file is quarantined")
    if m := _NOT_UTF8.search(text):
        return f"line {m.group(1)} is not valid UTF-8 (files must be UTF-8 text); the whole file is quarantined"
    return f"file could not be read: {_first_line(exc)}"


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:300]
