"""The run's parameters as one Dagster resource; values left empty fall back to the
environment variables and embedded defaults of tokenpnl.settings."""

from __future__ import annotations

from datetime import date

from dagster import ConfigurableResource
from dagster_dbt import DbtCliResource

from tokenpnl.settings import Settings


class TokenpnlResource(ConfigurableResource):
    landing: str = ""
    warehouse: str = ""
    as_of: str = ""  # YYYY-MM-DD; empty = yesterday (UTC)
    price_books: list[str] = []
    rebuild: bool = False  # `tokenpnl rebuild`: the publication is written whole too, never patched

    def settings(self) -> Settings:
        from pathlib import Path

        return Settings.from_env(
            landing=self.landing or None,
            warehouse=self.warehouse or None,
            price_books=tuple(Path(p).resolve() for p in self.price_books) or None,
        )

    def as_of_date(self) -> date | None:
        return date.fromisoformat(self.as_of) if self.as_of else None


class TokenpnlDbtCli(DbtCliResource):
    """dagster-dbt's dbt CLI resource without its in-process dbt adapter: before every command it
    imports dbt and loads the project and profile (~7 s here) only to fetch column metadata or row
    counts on request, which this job never asks for. dbt itself still runs as a child process."""

    def _initialize_dbt_core_adapter(self, args):  # noqa: ANN001, ANN202 (dagster-dbt's private hook)
        return None
