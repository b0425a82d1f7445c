"""Figures of one run (time per stage, peak memory per process) for the summary and `make bench`.

With `BATCHLEDGER_STATS_FILE=<path>` set, `ingest` and `transform` write them there as JSON:
  {"seconds": float, "up_to_date": bool, "mode": str | null,
   "peak_rss_mb": {"ingest": float, "dbt": float | null}, "stages": {"<stage>": seconds}}
"""

from __future__ import annotations

import json
import os
import resource
from pathlib import Path

STATS_ENV = "BATCHLEDGER_STATS_FILE"


def peak_rss_mb(*, dbt_ran: bool) -> dict[str, float | None]:
    """This process's high-water mark, and the dbt child's when a build ran (the largest child
    this process waited for). Linux reports ru_maxrss in KiB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"ingest": round(own, 1), "dbt": round(children, 1) if dbt_ran else None}


def write_run_stats(
    seconds: float, *, mode: str | None, stages: dict[str, float]
) -> dict[str, object]:
    stats: dict[str, object] = {
        "seconds": round(seconds, 3),
        "up_to_date": mode == "up_to_date",
        "mode": mode,
        "peak_rss_mb": peak_rss_mb(dbt_ran="dbt" in stages),
        "stages": {name: round(value, 3) for name, value in stages.items()},
    }
    target = os.environ.get(STATS_ENV)
    if target:
        Path(target).write_text(json.dumps(stats, indent=2), encoding="utf-8")
    return stats
