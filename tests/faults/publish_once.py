"""Run tokenpnl's publish step alone in its own process, so a test can kill -9 it mid-publish.

    python publish_once.py BUILD_DB WAREHOUSE AS_OF RUN_ID

Prints "ready" once imports are done (the kill clock starts there), then "published <seconds>".
"""

from __future__ import annotations

import sys
import time
from datetime import date
from pathlib import Path

from tokenpnl.publish import publish


def main() -> None:
    build_db, warehouse, as_of, run_id = sys.argv[1:5]
    print("ready", flush=True)
    t0 = time.perf_counter()
    publish(Path(build_db), Path(warehouse), as_of=date.fromisoformat(as_of), run_id=run_id)
    print(f"published {time.perf_counter() - t0:.4f}", flush=True)


if __name__ == "__main__":
    main()
