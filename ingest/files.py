"""Finding landing files safely, fingerprinting them, and peeking at their first record."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

SOURCE_KINDS = ("gateway", "invoices", "outcomes")
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


@dataclass(frozen=True)
class Rejected:
    rel: str
    kind: str
    reason: str


def discover(landing: Path) -> tuple[list[LandingFile], list[Rejected]]:
    """All candidate files below landing/{gateway,invoices,outcomes}, sorted by path.

    Symlinks are never followed and nothing outside the landing folder is read: a link is
    reported as rejected, as is a file whose extension the folder does not accept."""
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
                if path.is_symlink():
                    rejected.append(Rejected(rel, kind, "symlink not followed"))
                    continue
                inner = name[:-3] if name.endswith(".gz") else name
                if Path(inner).suffix.lower() not in SUFFIXES[kind]:
                    rejected.append(Rejected(rel, kind, f"unsupported file type for {kind}/ (accepted: {', '.join(SUFFIXES[kind])}, optionally .gz)"))
                    continue
                files.append(LandingFile(path, rel, kind))
    files.sort(key=lambda f: f.rel)
    return files, rejected


def _rel(landing: Path, path: Path) -> str:
    return path.relative_to(landing).as_posix()


def content_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _open_text(f: LandingFile):
    if f.compressed:
        return gzip.open(f.path, "rt", encoding="utf-8", errors="replace")
    return open(f.path, encoding="utf-8", errors="replace")


def first_record(f: LandingFile, max_lines: int = 50, *, first_only: bool = False) -> dict | None:
    """The first line (of the first few) that parses as a JSON object, to recognise the shape.
    With first_only, only the first non-blank line counts (a pretty-printed document's inner
    lines can be complete objects too)."""
    try:
        with _open_text(f) as fh:
            for _, line in zip(range(max_lines), fh):
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
    except (OSError, EOFError, gzip.BadGzipFile):
        return None
    return None


def csv_header(f: LandingFile) -> list[str]:
    try:
        with _open_text(f) as fh:
            line = fh.readline()
    except (OSError, EOFError, gzip.BadGzipFile):
        return []
    return [c.strip().strip('"').lstrip("\ufeff") for c in line.rstrip("\r\n").split(",")]


def json_document(f: LandingFile, max_bytes: int = 64 * 1024 * 1024) -> dict | None:
    """A whole-file JSON object (e.g. a pretty-printed API page), or None. Files over
    `max_bytes` are not parsed here: one-document files are API pages, never bulk data."""
    try:
        if f.path.stat().st_size > max_bytes:
            return None
        with _open_text(f) as fh:
            doc = json.load(fh)
    except (OSError, EOFError, ValueError, gzip.BadGzipFile):
        return None
    return doc if isinstance(doc, dict) else None
