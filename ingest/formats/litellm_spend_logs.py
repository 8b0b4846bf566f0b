"""G3: LiteLLM proxy spend logs (LiteLLM_SpendLogs rows as JSONL or CSV) (not implemented yet: matches nothing, so such files are quarantined as unknown)."""

from __future__ import annotations

from ingest.context import Counts, LoadContext

NAME = "litellm_spend_logs"
KIND = "gateway"
LAYOUTS = ("jsonl", "csv")
TABLE = "raw.llm_calls"


def matches(sample) -> bool:
    return False


def load(ctx: LoadContext, sample) -> Counts:
    raise NotImplementedError(NAME)
