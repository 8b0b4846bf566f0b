"""The run's parameters as one Dagster resource; values left empty fall back to the
environment variables and embedded defaults of tokenpnl.settings."""

from __future__ import annotations

from dagster import ConfigurableResource
from dagster_dbt import DbtCliResource

from tokenpnl.settings import Settings


class TokenpnlResource(ConfigurableResource):
    landing: str = ""
    warehouse: str = ""
    price_books: list[str] = []
    rebuild: bool = False  # `tokenpnl rebuild`: the publication is written whole too, never patched

    def settings(self) -> Settings:
        from pathlib import Path

        return Settings.from_env(
            landing=self.landing or None,
            warehouse=self.warehouse or None,
            price_books=tuple(Path(p).resolve() for p in self.price_books) or None,
        )


class TokenpnlDbtCli(DbtCliResource):
    """dagster-dbt's dbt CLI resource without its in-process dbt adapter: before every command it
    imports dbt and loads the project and profile (~7 s here) only to fetch column metadata or row
    counts on request, which this job never asks for. dbt itself still runs as a child process."""

    def _initialize_dbt_core_adapter(self, args):  # noqa: ANN001, ANN202 (dagster-dbt's private hook)
        return None
