"""A Dagster logger that prints concise progress lines (step started/finished, the assets' own
messages) on stderr, for people running `tokenpnl run` in a terminal or a cron log."""

import logging
import sys
import time

from dagster import Field, InitLoggerContext, logger

STEP_NAMES = {
    "raw_tables": "ingest landing files",
    "warehouse_models": "dbt build (models and tests)",
    "audit__gx_validation": "Great Expectations audit",
    "published__marts": "publish marts",
}


class _ProgressHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.started: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None)
        if not meta:
            return
        event, step = meta.get("dagster_event"), meta.get("step_key") or ""
        name = STEP_NAMES.get(step, step)
        if event is None:
            # Our own assets' messages; dagster-dbt's are in the run log.
            if record.levelno >= logging.INFO and step in ("raw_tables", "audit__gx_validation"):
                line = f"    {meta['orig_message']}"
            else:
                return
        elif event.event_type_value == "STEP_START":
            self.started[step] = time.monotonic()
            line = f"  ▸ {name}"
        elif event.event_type_value == "STEP_SUCCESS":
            line = f"  ✓ {name} ({time.monotonic() - self.started.get(step, time.monotonic()):.1f} s)"
        elif event.event_type_value == "STEP_FAILURE":
            line = f"  ✗ {name} failed"
        elif event.event_type_value == "STEP_SKIPPED":
            line = f"  – {name} skipped"
        else:
            return
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


@logger(config_schema={"log_level": Field(str, default_value="DEBUG")}, description="Concise step progress on stderr.")
def progress_logger(init_context: InitLoggerContext) -> logging.Logger:
    log = logging.getLogger("tokenpnl.progress")
    log.setLevel(init_context.logger_config["log_level"])  # step events are DEBUG records
    log.handlers = [_ProgressHandler()]
    log.propagate = False
    return log
