"""Run one measured step as a child process: wall time, peak RSS, and the run's own stats file.

Every step runs in a fresh process so its peak RSS is its own. `os.wait4` reports the peak of the
child and of the children it waited for (dbt), as one figure; when the CLI writes its stats file
(BATCHLEDGER_STATS_FILE) the bench prints that file's per-process figures instead.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STATS_ENV = "BATCHLEDGER_STATS_FILE"


class ChildFailed(RuntimeError):
    """A measured step exited non-zero; the message carries the tail of its output."""


@dataclass(frozen=True)
class ChildRun:
    seconds: float
    # ru_maxrss of the child, which covers the largest of the children it waited for.
    tree_peak_mb: float
    stdout: str
    # What the CLI wrote to BATCHLEDGER_STATS_FILE, if it did.
    stats: dict[str, Any] | None

    def peaks_mb(self) -> dict[str, float]:
        """Peak RSS per process from the stats file, else the process tree's one figure."""
        reported = (self.stats or {}).get("peak_rss_mb")
        if isinstance(reported, dict):
            peaks = {str(k): float(v) for k, v in reported.items() if isinstance(v, int | float)}
            if peaks:
                return peaks
        return {"tree (wait4)": self.tree_peak_mb}

    def stages(self) -> dict[str, float]:
        reported = (self.stats or {}).get("stages")
        if not isinstance(reported, dict):
            return {}
        return {str(k): float(v) for k, v in reported.items() if isinstance(v, int | float)}

    @property
    def up_to_date(self) -> bool | None:
        value = (self.stats or {}).get("up_to_date")
        return value if isinstance(value, bool) else None


def run_child(
    argv: list[str], *, cwd: Path, env: dict[str, str] | None = None, label: str
) -> ChildRun:
    """Run `argv` to completion. Output goes to files in `cwd` (no pipe can fill up and stall the
    child); a non-zero exit raises ChildFailed with the end of stderr."""
    stats_file = cwd / f"stats-{label}.json"
    stats_file.unlink(missing_ok=True)
    out_path, err_path = cwd / f"{label}.stdout", cwd / f"{label}.stderr"
    child_env = {**os.environ, **(env or {}), STATS_ENV: str(stats_file), "COLUMNS": "120"}
    with out_path.open("w") as out, err_path.open("w") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, env=child_env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = "\n".join(err_path.read_text(errors="replace").splitlines()[-20:])
        raise ChildFailed(f"{label} exited with {proc.returncode}:\n{tail}")
    stats = json.loads(stats_file.read_text()) if stats_file.exists() else None
    return ChildRun(
        seconds=seconds,
        # Linux reports ru_maxrss in KiB.
        tree_peak_mb=usage.ru_maxrss / 1024,
        stdout=out_path.read_text(errors="replace"),
        stats=stats if isinstance(stats, dict) else None,
    )


def python_child(module: str, *args: str) -> list[str]:
    """argv running `python -m module args` with this interpreter."""
    return [sys.executable, "-m", module, *args]


def cli_child(*args: str) -> list[str]:
    """argv running the installed `batchledger` entry point beside this interpreter."""
    return [str(Path(sys.executable).parent / "batchledger"), *args]
