"""Finding landing files safely, fingerprinting them, and peeking at their first record."""

from __future__ import annotations

import codecs
import gzip
import hashlib
import json
import os
import re
import stat
import zlib
from dataclasses import dataclass
from pathlib import Path

SOURCE_KINDS = ("gateway", "invoices", "outcomes")
_GLOB_CHAR = re.compile(r"([*?\[])")
SUFFIXES = {
    "gateway": (".jsonl", ".ndjson", ".json", ".csv"),
    "invoices": (".csv", ".json"),
    "outcomes": (".jsonl", ".ndjson", ".json"),
}


@dataclass(frozen=True)
class LandingFile:
    path: Path  # absolute
    rel: str  # relative to the landing folder, POSIX separators: the name users see
    kind: str  # gateway | invoices | outcomes

    @property
    def compressed(self) -> bool:
        return self.path.suffix == ".gz"

    @property
    def inner_suffix(self) -> str:
        name = self.path.name[:-3] if self.compressed else self.path.name
        return Path(name).suffix.lower()

    @property
    def duckdb_path(self) -> str:
        """The path as DuckDB's file readers must get it: they expand `*`, `?` and `[...]` as glob
        patterns even in a bound parameter (a file named `*.jsonl` would read every .jsonl beside
        it, `b[1].jsonl` would read `b1.jsonl`); each bracketed is a literal character."""
        return _GLOB_CHAR.sub(r"[\1]", str(self.path))


@dataclass(frozen=True)
class Rejected:
    rel: str
    kind: str
    reason: str


def discover(landing: Path) -> tuple[list[LandingFile], list[Rejected]]:
    """All candidate files below landing/{gateway,invoices,outcomes}, sorted by path.

    Symlinks are never followed and nothing outside the landing folder is read: a link is
    reported as rejected, as is anything but a regular file (a FIFO would block the reader
    forever; devices and sockets are not data) and a file whose extension the folder does not
    accept."""
    landing = landing.resolve()
    files: list[LandingFile] = []
    rejected: list[Rejected] = []
    for kind in SOURCE_KINDS:
        top = landing / kind
        if top.is_symlink():
            rejected.append(Rejected(f"{kind}", kind, "symlink not followed"))
            continue
        if not top.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
            for d in list(dirnames):
                if (Path(dirpath) / d).is_symlink():
                    dirnames.remove(d)
                    rejected.append(Rejected(_rel(landing, Path(dirpath) / d), kind, "symlink not followed"))
            for name in filenames:
                path = Path(dirpath) / name
                rel = _rel(landing, path)
                if name.startswith("."):
                    continue  # editor swap files, .DS_Store, partial uploads by convention
                try:
                    mode = os.lstat(path).st_mode
                except OSError as exc:  # vanished or unreadable between listing and stat
                    rejected.append(Rejected(rel, kind, f"cannot stat: {exc.strerror}"))
                    continue
                if stat.S_ISLNK(mode):
                    rejected.append(Rejected(rel, kind, "symlink not followed"))
                    continue
                if not stat.S_ISREG(mode):
                    rejected.append(Rejected(rel, kind, "not a regular file (FIFO, socket or device): not read"))
                    continue
                inner = name[:-3] if name.endswith(".gz") else name
                if Path(inner).suffix.lower() not in SUFFIXES[kind]:
                    rejected.append(Rejected(rel, kind, f"unsupported file type for {kind}/ (accepted: {', '.join(SUFFIXES[kind])}, optionally .gz)"))
                    continue
                if glob_problem := _glob_problem(path, Path(inner).suffix.lower()):
                    rejected.append(Rejected(rel, kind, glob_problem))
                    continue
                files.append(LandingFile(path, rel, kind))
    files.sort(key=lambda f: f.rel)
    return files, rejected


def _glob_problem(path: Path, suffix: str) -> str | None:
    """Why DuckDB cannot be given this path literally. Its readers expand `*`, `?` and `[` as glob
    patterns; LandingFile.duckdb_path brackets them, but a backslash cannot be matched inside a
    pattern."""
    text = str(path)
    if not _GLOB_CHAR.search(text):
        return None
    if "\\" in text:
        return "path holds both a glob character (* ? [) and a backslash, which DuckDB cannot read literally: rename it"
    return None


def _rel(landing: Path, path: Path) -> str:
    return path.relative_to(landing).as_posix()


def content_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# Sampling never reads more than this much of one line (a longer line is skipped, and the
# loader quarantines it): recognising a format must not pull a hostile line into memory.
SAMPLE_LINE_BYTES = 64 * 1024 * 1024


def _open_binary(f: LandingFile):
    return gzip.open(f.path, "rb") if f.compressed else open(f.path, "rb")


def _lines(fh, max_line_bytes: int):
    """Physical lines of a binary file as text (invalid UTF-8 replaced, a leading BOM dropped); a
    line longer than `max_line_bytes` is skipped in chunks, never held whole, and yields None."""
    first = True
    while True:
        line = fh.readline(max_line_bytes + 1)
        if not line:
            return
        if len(line.rstrip(b"\r\n")) > max_line_bytes:
            while line and not line.endswith(b"\n"):
                line = fh.readline(1 << 20)
            first = False
            yield None
            continue
        text = line.decode("utf-8", errors="replace")
        if first:
            text = text.removeprefix("\ufeff")
            first = False
        yield text


def first_record(f: LandingFile, max_lines: int = 50, *, first_only: bool = False,
                 max_line_bytes: int = SAMPLE_LINE_BYTES) -> dict | None:
    """The first line (of the first few) that parses as a JSON object, to recognise the shape.
    With first_only, only the first non-blank line counts (a pretty-printed document's inner
    lines can be complete objects too). Lines over `max_line_bytes` are skipped unread."""
    try:
        with _open_binary(f) as fh:
            for _, line in zip(range(max_lines), _lines(fh, max_line_bytes)):
                if line is None:
                    continue
                line = line.strip()
                if not line:
                    continue
                try:
                    rec = json.loads(line)
                except ValueError:
                    rec = None
                if isinstance(rec, dict):
                    return rec
                if first_only:
                    return None
    except (OSError, EOFError, zlib.error):
        return None
    return None


@dataclass(frozen=True)
class LineEndings:
    lines: int  # physical lines: ended by LF, CRLF, or a CR at the end of the file or in a file without LF
    mixed: bool  # both CRLF and bare LF endings
    stray_cr_line: int | None  # first line holding a CR that is neither a line end nor before an LF (LF files only)
    over_cap: bool = False  # a line (its CR counted) is longer than the cap given to line_endings


_STRAY_CR = re.compile(rb"\r(?!\n)")


def line_endings(f: LandingFile, cap: int | None = None) -> LineEndings | None:
    """How the (decompressed) file ends its lines, from one streaming pass at memchr speed:
    DuckDB's line reader needs this to number lines as an editor does (see LoadContext.read_lines),
    and whether a line is longer than `cap` bytes. None when the file cannot be read (the reader
    then reports why)."""
    newlines = crlf = bare_cr = 0
    stray = None
    carry_cr = False  # the previous chunk ended in CR: its LF, if any, starts this chunk
    last = b""
    over = False
    current = 0  # bytes of the line still open at the end of the last chunk
    try:
        with _open_binary(f) as fh:
            for chunk in iter(lambda: fh.read(_CHUNK), b""):
                if carry_cr:
                    if chunk.startswith(b"\n"):
                        crlf += 1
                    else:
                        bare_cr += 1
                        stray = stray or newlines + 1
                carry_cr = chunk.endswith(b"\r")
                if b"\r" in chunk:
                    pairs = chunk.count(b"\r\n")
                    crlf += pairs
                    inner = chunk.count(b"\r") - pairs - carry_cr
                    if inner:
                        bare_cr += inner
                        if stray is None:
                            stray = newlines + chunk.count(b"\n", 0, _STRAY_CR.search(chunk).start()) + 1
                newlines += chunk.count(b"\n")
                last = chunk[-1:]
                if cap is not None and not over:
                    current, over = _line_lengths(chunk, current, cap)
    except (OSError, EOFError, zlib.error):
        return None
    if carry_cr:  # a CR ending the file ends its last line
        bare_cr += 1
    if newlines == 0:  # classic Mac: CR alone ends every line, which DuckDB's reader does too
        stray = None
    lines = newlines + (bare_cr if stray is None else 0) + (1 if last and last not in b"\r\n" else 0)
    return LineEndings(lines, crlf > 0 and newlines > crlf, stray, over)


def _line_lengths(chunk: bytes, current: int, cap: int) -> tuple[int, bool]:
    """The length of the line open after `chunk` (`current` bytes of it were before), and whether
    a line ended or open in it is longer than `cap`. Lines inside a chunk are measured one by one
    only when the cap is below the chunk's size (in tests): longer caps need two finds per chunk."""
    first = chunk.find(b"\n")
    if first < 0:
        return current + len(chunk), current + len(chunk) > cap
    if current + first > cap:
        return 0, True
    last = chunk.rfind(b"\n")
    if cap < len(chunk) and any(len(line) > cap for line in chunk[first + 1:last].split(b"\n")):
        return 0, True
    return len(chunk) - last - 1, len(chunk) - last - 1 > cap


def csv_header(f: LandingFile, max_line_bytes: int = SAMPLE_LINE_BYTES) -> list[str]:
    try:
        with _open_binary(f) as fh:
            line = next(_lines(fh, max_line_bytes), None)
    except (OSError, EOFError, zlib.error):
        return []
    if line is None:
        return []
    return [c.strip().strip('"').lstrip("\ufeff") for c in line.rstrip("\r\n").split(",")]


def json_document(f: LandingFile, max_bytes: int = 64 * 1024 * 1024) -> dict | None:
    """A whole-file JSON object (e.g. a pretty-printed API page), or None. Files over
    `max_bytes` (uncompressed) are not parsed here: one-document files are API pages, never bulk data."""
    try:
        if f.path.stat().st_size > max_bytes:
            return None
        with _open_binary(f) as fh:
            data = fh.read(max_bytes + 1)
        if len(data) > max_bytes:
            return None
        doc = json.loads(data)
    except (OSError, EOFError, ValueError, zlib.error):
        return None
    return doc if isinstance(doc, dict) else None


def text_problem(f: LandingFile, probe_bytes: int = 1 << 16) -> str | None:
    """Why a file that matched no format is not even text: empty, blank, or not UTF-8 (binary)."""
    try:
        with _open_binary(f) as fh:
            head = fh.read(probe_bytes)
            more = bool(fh.read(1))
    except (OSError, EOFError, zlib.error):
        return None
    if not head:
        return "file is empty: no records"
    if b"\0" in head:
        return "file holds NUL bytes: not a text file (binary content?)"
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=not more)
    except UnicodeDecodeError:
        return "file is not UTF-8 text (binary content?)"
    if not more and not text.strip():
        return "file holds only blank lines: no records"
    return None


# --- compressed files --------------------------------------------------------------------------

_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20


def gzip_problem(path: Path, max_uncompressed_bytes: int) -> str | None:
    """Why a .gz file must not be loaded, or None: it expands past `max_uncompressed_bytes`, is
    truncated, corrupt, or not gzip at all.

    The file is decompressed as a stream, 1 MiB at a time, counting bytes over all members and
    stopping as soon as the count passes the cap: memory stays at a few MiB whatever the ratio,
    and zlib verifies every member's CRC-32 and length on the way. This full pass is needed
    anyway: DuckDB loads a truncated or corrupt gzip stream silently (the lines before the
    damage, or garbage). The ISIZE trailer is not used as a shortcut: it is modulo 2**32, only
    the last member's, and in a truncated file arbitrary bytes (it would misname the problem).
    Cost: about 1 s per GB of output on one core, next to ~10 s per GB for DuckDB's parse."""
    cap = f"the cap of {max_uncompressed_bytes} bytes (TOKENPNL_MAX_UNCOMPRESSED_BYTES)"
    if path.stat().st_size == 0:
        return "file is empty: 0 bytes, not even a gzip header"
    with open(path, "rb") as fh:
        if fh.read(2) != _GZIP_MAGIC:
            return "not a gzip file: the name ends in .gz but the content lacks the gzip signature"
        fh.seek(0)
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        total = 0
        members = 1
        pending = b""
        more_output = False  # the last call stopped at the output limit: call again before reading
        while True:
            if not pending and not more_output:
                pending = fh.read(_CHUNK)
                if not pending:
                    break
            if d.eof:  # a member ended: what follows must be another member (or zero padding)
                if not pending.strip(b"\0"):
                    pending = b""
                    continue
                if not pending.startswith(_GZIP_MAGIC[: len(pending)]):
                    return f"gzip file is corrupt: {len(pending)}+ bytes of non-gzip data after member {members}"
                d = zlib.decompressobj(16 + zlib.MAX_WBITS)
                members += 1
            try:
                out = d.decompress(pending, _CHUNK)
            except zlib.error as exc:
                return f"gzip file is corrupt (member {members}, after {total} bytes uncompressed): {exc}"
            total += len(out)
            if total > max_uncompressed_bytes:
                return f"gzip file expands to more than {cap}; stopped after {total} bytes, not loaded"
            more_output = len(out) == _CHUNK and not d.eof
            pending = d.unused_data if d.eof else d.unconsumed_tail
    if not d.eof:
        return (f"gzip file is truncated: its compressed stream ends after {total} bytes uncompressed, "
                "before the end of member " + str(members) + " (an incomplete upload?)")
    return None
