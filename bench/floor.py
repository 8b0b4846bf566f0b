"""Run bench/floor.sql: DuckDB alone computing token_pnl_daily and cost_per_verified_success.

    python -m bench.floor --landing DIR --as-of YYYY-MM-DD --price-book CSV --out floor.duckdb [--profile]

Writes the two marts into schema `marts` of OUT (replaced). It imports nothing of tokenpnl: the
default price book and the provider aliases are read from the repository's models/ folder.
"""

from __future__ import annotations

import re
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Optional

import duckdb
import typer

ROOT = Path(__file__).resolve().parent.parent
SQL = Path(__file__).with_name("floor.sql")
DEFAULT_BOOK = ROOT / "models" / "price_books" / "default.csv"
ALIASES = ROOT / "models" / "provider_aliases.csv"


def statements(landing: Path, as_of: date, price_book: Path) -> list[str]:
    """floor.sql with its parameters filled in, split into statements."""
    values = {"landing": str(Path(landing).resolve()), "instant": (as_of + timedelta(days=1)).isoformat(),
              "default_book": str(DEFAULT_BOOK), "user_book": str(Path(price_book).resolve()), "aliases": str(ALIASES)}
    # only ${name} is a parameter: regular expressions in the SQL use a bare $
    text = re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)].replace("'", "''"), SQL.read_text(encoding="utf-8"))
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in re.split(r";\s*\n", body) if s.strip()]


def run(landing: Path, as_of: date, price_book: Path, out: Path, *, threads: int | None = None,
        memory_limit: str | None = None, profile: bool = False) -> dict[str, float]:
    """Execute the floor into `out`; return seconds per statement (keyed by its first words)."""
    out = Path(out)
    for p in (out, out.with_name(out.name + ".wal")):
        p.unlink(missing_ok=True)
    con = duckdb.connect(str(out))
    timings: dict[str, float] = {}
    try:
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        if memory_limit:
            con.execute(f"SET memory_limit = '{memory_limit}'")
        for stmt in statements(landing, as_of, price_book):
            t0 = time.perf_counter()
            con.execute(stmt)
            label = " ".join(stmt.split()[:6])[:70]
            timings[label] = timings.get(label, 0.0) + time.perf_counter() - t0
            if profile:
                print(f"{timings[label]:8.2f} s  {label}", flush=True)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return timings


def main(
    landing: Annotated[Path, typer.Option(help="Landing folder written by bench/generate.py.")],
    as_of: Annotated[str, typer.Option("--as-of", help="Last UTC day the run knows about, YYYY-MM-DD.")],
    price_book: Annotated[Path, typer.Option(help="The user price book of the generated folder.")],
    out: Annotated[Path, typer.Option(help="DuckDB file to write the two marts into (replaced).")] = Path("floor.duckdb"),
    threads: Annotated[Optional[int], typer.Option(help="DuckDB threads (default: all cores).")] = None,
    memory_limit: Annotated[Optional[str], typer.Option(help="DuckDB memory limit, e.g. 3GB (default: DuckDB's).")] = None,
    profile: Annotated[bool, typer.Option(help="Print the time of every statement.")] = False,
) -> None:
    """Compute the two marts with DuckDB alone."""
    t0 = time.perf_counter()
    run(landing, date.fromisoformat(as_of), price_book, out, threads=threads, memory_limit=memory_limit, profile=profile)
    print(f"floor: {time.perf_counter() - t0:.2f} s -> {out}")


if __name__ == "__main__":
    typer.run(main)
