"""Run the dbt project (dbt_project/) against a warehouse file, once per ingest.

dbt runs in a child process: dbt-duckdb keeps a process-wide connection open after it finishes,
which would stop this process from checkpointing and publishing the same file.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from batchledger.paths import DBT_PROJECT_DIR


@dataclass
class DbtOutcome:
    success: bool
    statuses: Counter[str] = field(default_factory=Counter)
    # "<node>: <message>" for every test that warned or failed and every node that errored.
    warnings: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def node_name(unique_id: str) -> str:
    """The readable name of a node: `test.batchledger.unique_x_id.7e10f76dad` is a test named
    unique_x_id (the last part of a generic test's id is only a hash)."""
    parts = unique_id.split(".")
    if parts[0] in {"test", "unit_test"} and len(parts) >= 3:
        return parts[2] if parts[0] == "test" else ".".join(parts[2:])
    return parts[-1]


def dbt_project_exists() -> bool:
    return (DBT_PROJECT_DIR / "dbt_project.yml").exists()


def dbt_executable() -> str:
    """The dbt installed beside this interpreter, so the venv's pinned dbt is the one that runs."""
    candidate = Path(sys.executable).parent / "dbt"
    return str(candidate) if candidate.exists() else "dbt"


def _die_with_parent() -> None:
    """Runs in the dbt child before exec: the kernel ends it when its parent dies, so a killed
    ingest never leaves a dbt build holding the working database."""
    PR_SET_PDEATHSIG = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def run_dbt(
    db_path: Path,
    args: tuple[str, ...] = ("build",),
    *,
    artifacts_dir: Path,
    quiet: bool = True,
    build_env: dict[str, str] | None = None,
) -> DbtOutcome:
    """Run one dbt command (its start-up costs ~2 s, so once per ingest, not once per model)."""
    temp_dir = artifacts_dir / "duckdb_tmp"
    temp_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "BATCHLEDGER_DBT_DB": str(db_path),
        "BATCHLEDGER_DBT_TEMP_DIR": str(temp_dir),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        **(build_env or {}),
    }
    target = artifacts_dir / "target"
    command = [
        dbt_executable(),
        *args,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(target),
        "--log-path",
        str(artifacts_dir / "logs"),
    ]
    if quiet:
        command.insert(1, "--quiet")
    (target / "run_results.json").unlink(missing_ok=True)
    preexec = _die_with_parent if sys.platform.startswith("linux") else None
    completed = subprocess.run(
        command, env=env, cwd=DBT_PROJECT_DIR, check=False, preexec_fn=preexec
    )
    outcome = DbtOutcome(success=completed.returncode == 0)
    results_file = target / "run_results.json"
    if not results_file.exists():
        outcome.failures.append(f"dbt exited with {completed.returncode} before running any node")
        return outcome
    for result in json.loads(results_file.read_text()).get("results", []):
        status = str(result.get("status"))
        outcome.statuses[status] += 1
        node = node_name(str(result.get("unique_id", "?")))
        label = f"{node}: {result.get('message') or status}"
        if status == "warn":
            outcome.warnings.append(label)
        elif status in {"fail", "error"}:
            outcome.failures.append(label)
    return outcome
