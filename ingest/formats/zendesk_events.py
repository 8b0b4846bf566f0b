"""O2: Zendesk ticket webhook events (not implemented yet: matches nothing, so such files are quarantined as unknown)."""

from __future__ import annotations

from ingest.context import Counts, LoadContext

NAME = "zendesk_events"
KIND = "outcomes"
LAYOUTS = ("jsonl",)
TABLE = "raw.zendesk_events"


def matches(sample) -> bool:
    return False


def load(ctx: LoadContext, sample) -> Counts:
    raise NotImplementedError(NAME)
