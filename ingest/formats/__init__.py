"""The format registry: adding a source format is one new module listed here.

A format module defines NAME, KIND (the landing sub-folder it belongs to), LAYOUT (`jsonl`
or `csv`), `matches(sample)` (first JSON record, or the CSV header) and `load(ctx[, header])`.
Order matters where shapes overlap: the more specific format comes first.
"""

from __future__ import annotations

from types import ModuleType

from ingest.formats import focus_csv, gateway_jsonl, generic_outcomes, github_deliveries

FORMATS: tuple[ModuleType, ...] = (gateway_jsonl, github_deliveries, generic_outcomes, focus_csv)


def detect(layout: str, sample: dict | list[str] | None) -> ModuleType | None:
    if sample is None:
        return None
    for fmt in FORMATS:
        if fmt.LAYOUT == layout and fmt.matches(sample):
            return fmt
    return None
