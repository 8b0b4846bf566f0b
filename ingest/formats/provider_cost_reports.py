"""I2: OpenAI Costs API pages and Anthropic cost reports (JSON) (not implemented yet: matches nothing, so such files are quarantined as unknown)."""

from __future__ import annotations

from ingest.context import Counts, LoadContext

NAME = "provider_cost_reports"
KIND = "invoices"
LAYOUTS = ("jsonl", "json")
TABLE = "raw.provider_cost_rows"


def matches(sample) -> bool:
    return False


def load(ctx: LoadContext, sample) -> Counts:
    raise NotImplementedError(NAME)
