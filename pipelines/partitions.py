"""The nightly job's daily partitions: partition D is the night that publishes the marts as of
the end of UTC day D. A missed night, or a stretch of history, is caught up with a Dagster
backfill of the missing days. The steps of every night write one DuckDB file, so the runs of a
backfill go one after another (dagster.yaml: one run at a time); each covers up to
TOKENPNL_BACKFILL_DAYS days and publishes as of its last day. The warehouse is cumulative:
each night ingests every new landed file and rebuilds only what changed (docs/rules.md,
"Incremental nights"), so a backfill ends in the same marts as one night as of its last day.
"""

from __future__ import annotations

from datetime import date

from dagster import AssetExecutionContext, BackfillPolicy, DailyPartitionsDefinition

from tokenpnl.settings import DAYS_AHEAD, backfill_days, first_day

# The partitions reach DAYS_AHEAD days past today: a run may be as of today (the day so far) or of
# a later day (synthetic or replayed data; the as-of only bounds what the marts include).
nights = DailyPartitionsDefinition(start_date=first_day().isoformat(), timezone="UTC", end_offset=DAYS_AHEAD + 1)
backfill_policy = BackfillPolicy.multi_run(max_partitions_per_run=backfill_days())


def as_of(context: AssetExecutionContext) -> date:
    """The run's as-of day: its partition, or the last day of its range of partitions."""
    return date.fromisoformat(context.partition_key_range.end)

