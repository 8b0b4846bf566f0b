"""The demo's headline, read from the published marts (read-only, like any BI tool)."""

from __future__ import annotations

from pathlib import Path

import duckdb
from rich.console import Console
from rich.table import Table

_CLASSES = ("input_uncached", "input_cache_read", "input_cache_write", "output_visible", "output_reasoning")


def _table(title: str, columns: list[str], rows: list[tuple]) -> Table:
    table = Table(title=title, title_justify="left")
    for i, col in enumerate(columns):
        table.add_column(col, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*("—" if v is None else str(v) for v in row))
    return table


def print_headline(warehouse: Path, console: Console) -> None:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        spend = con.execute(
            "SELECT " + ", ".join(f"round(sum(cost_{c}_usd), 2)" for c in _CLASSES)
            + ", round(sum(list_cost_usd), 2), sum(total_tokens), count(*) FILTER (WHERE NOT is_priced) FROM marts.fct_llm_calls"
        ).fetchone()
        console.print(_table(
            "Spend by token class (list price, USD)",
            ["uncached input", "cache read", "cache write", "visible output", "reasoning", "total", "tokens", "unpriced calls"],
            [spend],
        ))
        cache = con.execute(
            "SELECT round(100.0 * sum(input_cache_read_tokens) / nullif(sum(input_uncached_tokens + input_cache_read_tokens"
            " + input_cache_write_tokens), 0), 1), round(100.0 * count(*) FILTER (WHERE input_cache_read_tokens > 0)"
            " / nullif(count(*), 0), 1) FROM marts.fct_llm_calls"
        ).fetchone()
        console.print(f"Cache hit rate: {cache[0]}% of input tokens, {cache[1]}% of calls\n")
        console.print(_table(
            "Cost per verified success by workflow type",
            ["workflow type", "workflows", "verified", "failed", "list cost", "per verified success (list)", "per verified success (invoice)"],
            con.execute(
                "SELECT workflow_type, sum(workflows), sum(verified_successes), sum(failed), round(sum(list_cost_usd), 2),"
                " round(sum(list_cost_usd) / nullif(sum(verified_successes), 0), 4),"
                " round(sum(invoice_cost_usd) / nullif(sum(verified_successes), 0), 4)"
                " FROM marts.cost_per_verified_success GROUP BY 1 ORDER BY 1"
            ).fetchall(),
        ))
        console.print(_table(
            "Invoice reconciliation",
            ["provider", "month", "calls", "list cost", "invoice (usage)", "variance %", "status"],
            con.execute(
                "SELECT provider, month, calls, round(list_cost_usd, 2), round(invoice_usage_cost_usd, 2),"
                " round(variance_pct, 2), status FROM marts.invoice_reconciliation ORDER BY month, provider"
            ).fetchall(),
        ))
        console.print(f"Query the marts: duckdb -readonly {warehouse} \"SELECT * FROM marts.exec_dashboard\"")
    finally:
        con.close()
