"""`tokenpnl` command line: run the nightly job on a landing folder, or the seeded demo.

Heavy imports (Dagster, dbt, GX) happen inside the commands so `tokenpnl --help` stays instant.
"""

from __future__ import annotations

import contextlib
import os
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.console import Console

if TYPE_CHECKING:
    from tokenpnl.settings import Settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help="What your AI work really costs per trusted outcome.")
console = Console(stderr=True)
out = Console(width=None if sys.stdout.isatty() else 150)


def _parse_day(value: str) -> date:
    """An as-of day the nightly job has a partition for: from TOKENPNL_FIRST_DAY to today (UTC)."""
    from tokenpnl.settings import DAYS_AHEAD, first_day

    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date; use YYYY-MM-DD (e.g. 2026-11-21)") from None
    if day < first_day():
        raise typer.BadParameter(f"{day} is before TOKENPNL_FIRST_DAY ({first_day()}), the first night the job knows; set it earlier")
    if day > datetime.now(timezone.utc).date() + timedelta(days=DAYS_AHEAD):
        raise typer.BadParameter(f"{day} is more than {DAYS_AHEAD} days in the future, past the job's last partition")
    return day


@app.command()
def run(
    landing: Annotated[Path, typer.Option(help="Landing folder with gateway/, invoices/, outcomes/ (and optional fx_rates/).")],
    warehouse: Annotated[Path, typer.Option(help="DuckDB file to publish the marts into (created if missing).")],
    as_of: Annotated[str, typer.Option("--as-of", help="Last UTC day the run knows about, YYYY-MM-DD.")],
    price_book: Annotated[Optional[list[Path]], typer.Option("--price-book", help="A user price book CSV; repeatable; wins over the default book.")] = None,
) -> None:
    """Run the whole nightly job through Dagster: ingest, dbt build and tests, GX audit, publish."""
    day = _parse_day(as_of)
    _check_inputs(landing, price_book)
    _run_and_report(landing, warehouse, day, price_book)


@app.command()
def rebuild(
    landing: Annotated[Path, typer.Option(help="Landing folder holding every file ever delivered.")],
    warehouse: Annotated[Path, typer.Option(help="DuckDB file to publish the rebuilt marts into.")],
    as_of: Annotated[str, typer.Option("--as-of", help="Last UTC day the run knows about, YYYY-MM-DD.")],
    price_book: Annotated[Optional[list[Path]], typer.Option("--price-book", help="A user price book CSV; repeatable.")] = None,
) -> None:
    """Rebuild the warehouse from the landing folder alone: drop the build database (raw tables,
    load manifest and models) and run the whole job again. The published file is replaced only
    when the rebuilt marts pass every check; the pseudonymisation key is kept."""
    day = _parse_day(as_of)
    _check_inputs(landing, price_book)
    _run_and_report(landing, warehouse, day, price_book, rebuild=True)


def _check_inputs(landing: Path, price_book: Optional[list[Path]]) -> None:
    if not landing.is_dir():
        raise typer.BadParameter(f"landing folder {landing} does not exist", param_hint="--landing")
    for book in price_book or []:
        if not book.is_file():
            raise typer.BadParameter(f"price book {book} does not exist", param_hint="--price-book")


def _run_and_report(landing: Path, warehouse: Path, day: date, price_book: Optional[list[Path]], rebuild: bool = False) -> None:
    from tokenpnl.lock import WarehouseBusy

    try:
        ok, message = run_job(landing=landing, warehouse=warehouse, as_of=day, price_books=list(price_book or []), rebuild=rebuild)
    except WarehouseBusy as exc:
        console.print(f"[bold red]tokenpnl {'rebuild' if rebuild else 'run'} refused[/]: {exc}")
        raise typer.Exit(1) from None
    if not ok:
        console.print(f"[bold red]tokenpnl run failed[/]: {message}")
        console.print(f"The last good publication in {warehouse} is unchanged.")
        raise typer.Exit(1)
    out.print(message)


def run_job(*, landing: Path, warehouse: Path, as_of: date | None, price_books: list[Path],
            rebuild: bool = False) -> tuple[bool, str]:
    """Execute the `nightly` Dagster job in this process, holding the warehouse's writer lock;
    with rebuild, first drop the build database under the same lock.
    Returns (success, message); raises WarehouseBusy when another run holds the lock."""
    from tokenpnl.lock import writer_lock
    from tokenpnl.settings import Settings

    settings = Settings.from_env(landing=landing, warehouse=warehouse, price_books=tuple(p.resolve() for p in price_books))
    build_db = settings.build_db
    with writer_lock(build_db, settings.warehouse):
        if rebuild:
            for path in (build_db, build_db.with_name(build_db.name + ".wal")):
                path.unlink(missing_ok=True)
            console.print(f"Dropped {build_db}; reloading everything from {settings.landing}")
        return _execute(settings, as_of, rebuild)


def _execute(settings: Settings, as_of: date | None, rebuild: bool = False) -> tuple[bool, str]:
    os.environ["TOKENPNL_BUILD_DB"] = str(settings.build_db)
    with console.status("Preparing the dbt project and Dagster definitions…"):
        from dagster import DagsterInstance

        from pipelines.dbt import ensure_manifest

        ensure_manifest(settings.build_db, settings.dbt_vars)
        from pipelines.definitions import defs
    run_config = {
        "resources": {"tokenpnl": {"config": {
            "landing": str(settings.landing), "warehouse": str(settings.warehouse),
            "price_books": [str(p) for p in settings.price_books],
            "rebuild": rebuild,
        }}},
        "loggers": {
            "console": {"config": {"log_level": os.environ.get("TOKENPNL_LOG_LEVEL", "CRITICAL")}},
            "progress": {},
        },
    }
    # The night's partition (pipelines/partitions.py); without an as-of day, yesterday (UTC).
    as_of = as_of or datetime.now(timezone.utc).date() - timedelta(days=1)
    instance = DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else DagsterInstance.ephemeral()
    # dbt's per-node log lines go to a file, not the terminal; the last run's log stays for troubleshooting.
    log_path = settings.warehouse.parent / "logs" / "last_run.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    console.print(f"Running the nightly job (as of {as_of}) on {settings.landing}")
    with open(log_path, "w") as log, contextlib.redirect_stdout(log):
        result = defs.resolve_job_def("nightly").execute_in_process(
            run_config=run_config, instance=instance, partition_key=as_of.isoformat(), raise_on_error=False)
    if result.success:
        return True, f"Published marts to {settings.warehouse} (as of {as_of})."
    message = _failure_message(result)
    return False, message + _stored_failures(settings.build_db, message) + _rebuild_hint(settings, message) + f"\n(full log: {log_path})"


def _rebuild_hint(settings: Settings, message: str) -> str:
    """A damaged build database (disk full, a copied half file) is rebuilt from the landing folder."""
    damaged = ("not a valid DuckDB database", "Could not read enough bytes", "Corrupt", "checksum", "INTERNAL Error")
    if not any(d in message for d in damaged):
        return ""
    return (f"\n  The build database {settings.build_db} looks damaged. It holds nothing the landing folder does not:"
            f"\n  tokenpnl rebuild --landing {settings.landing} --warehouse {settings.warehouse} --as-of YYYY-MM-DD")


def _failure_message(result) -> str:
    lines = []
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data:
            err = event.step_failure_data.error
            text = err.message.strip() if err else "unknown error"
            if err and err.cause and "Failure" not in (err.cls_name or ""):
                text += "\n  caused by: " + err.cause.message.strip()
            if event.step_failure_data.user_failure_data and event.step_failure_data.user_failure_data.description:
                text = event.step_failure_data.user_failure_data.description
            lines.append(f"step {event.step_key}: {text}")
    return "\n".join(lines) or "the job failed (no step reported an error; set TOKENPNL_LOG_LEVEL=INFO for details)"


def _stored_failures(build_db: Path, message: str) -> str:
    """The offending rows of failed dbt tests that store their failures (the FX-rate check names
    the currency and day to add), read from the build database."""
    import re

    import duckdb

    names = sorted(set(re.findall(r"Failure in test (\w+)", message)))
    if not names or not build_db.exists():
        return ""
    out = []
    con = duckdb.connect(str(build_db), read_only=True)
    try:
        stored = {t for (t,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'dbt_test__audit'").fetchall()}
        for name in names:
            if name in stored:
                cur = con.execute(f'SELECT * FROM dbt_test__audit."{name}" LIMIT 5')
                cols = [d[0] for d in cur.description]
                rows = ["    " + ", ".join(f"{c}={v}" for c, v in zip(cols, r)) for r in cur.fetchall()]
                out.append(f"\n  {name} found:\n" + "\n".join(rows))
    finally:
        con.close()
    return "".join(out)


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="Where to write the sample landing folder.")] = Path("demo"),
    warehouse: Annotated[Optional[Path], typer.Option(help="DuckDB file to publish into (default: TOKENPNL_WAREHOUSE or ./warehouse/tokenpnl.duckdb).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed of the sample data.")] = 7,
) -> None:
    """Write a realistic seeded sample landing folder, run the job on it, print the headline."""
    from tokenpnl.demo_data import generate
    from tokenpnl.settings import Settings

    target = (warehouse or Settings.from_env().warehouse).resolve()
    with console.status(f"Writing a seeded sample landing folder to {out_dir}…"):
        truth = generate(out_dir.resolve(), seed=seed)
    console.print(f"Sample data: {truth.landing} (as of {truth.as_of}), price book {truth.price_book}")
    from tokenpnl.lock import WarehouseBusy

    try:
        ok, message = run_job(landing=truth.landing, warehouse=target, as_of=truth.as_of, price_books=[truth.price_book])
    except WarehouseBusy as exc:
        ok, message = False, str(exc)
    if not ok:
        console.print(f"[bold red]demo run failed[/]: {message}")
        raise typer.Exit(1)
    console.print(message)
    from tokenpnl.headline import print_headline

    print_headline(target, out)


def main() -> None:
    from tokenpnl.settings import ConfigError

    try:
        app()
    except ConfigError as exc:
        console.print(f"[bold red]configuration error[/]: {exc}")
        sys.exit(2)
    except KeyboardInterrupt:
        console.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
