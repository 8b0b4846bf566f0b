"""The format registry: adding a source format is one new module listed here.

A format module defines NAME, KIND (the landing sub-folder it belongs to), LAYOUTS (of `jsonl`:
one JSON object per line; `json`: one JSON document per file; `csv`), TABLE (the raw table it
lands in), optionally DDL (creating that table when it is its own), `matches(sample)` (the first
JSON object of the file, the whole document, or the CSV header) and `load(ctx, sample) -> Counts`.
Order matters where shapes overlap: the more specific format comes first.
"""

from __future__ import annotations

from types import ModuleType

from ingest.formats import (
    focus_csv,
    gateway_jsonl,
    generic_outcomes,
    github_deliveries,
    jira_events,
    litellm_spend_logs,
    otel_spans,
    provider_cost_reports,
    zendesk_events,
)

FORMATS: tuple[ModuleType, ...] = (
    otel_spans, litellm_spend_logs, gateway_jsonl,
    focus_csv, provider_cost_reports,
    github_deliveries, zendesk_events, jira_events, generic_outcomes,
)


def detect(layout: str, sample: dict | list[str] | None) -> ModuleType | None:
    if sample is None:
        return None
    for fmt in FORMATS:
        if layout in fmt.LAYOUTS and fmt.matches(sample):
            return fmt
    return None


def raw_tables() -> list[str]:
    """Every raw table a format lands in, without the `raw.` prefix, in registry order."""
    return list(dict.fromkeys(fmt.TABLE.removeprefix("raw.") for fmt in FORMATS))
