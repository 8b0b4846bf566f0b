"""G2: OpenTelemetry GenAI spans, OTLP/JSON lines (not implemented yet: matches nothing, so such files are quarantined as unknown)."""

from __future__ import annotations

from ingest.context import Counts, LoadContext

NAME = "otel_spans"
KIND = "gateway"
LAYOUTS = ("jsonl",)
TABLE = "raw.llm_calls"


def matches(sample) -> bool:
    return False


def load(ctx: LoadContext, sample) -> Counts:
    raise NotImplementedError(NAME)
