"""O2: Jira jira:issue_updated webhooks (not implemented yet: matches nothing, so such files are quarantined as unknown)."""

from __future__ import annotations

from ingest.context import Counts, LoadContext

NAME = "jira_events"
KIND = "outcomes"
LAYOUTS = ("jsonl",)
TABLE = "raw.jira_events"


def matches(sample) -> bool:
    return False


def load(ctx: LoadContext, sample) -> Counts:
    raise NotImplementedError(NAME)
