"""Run the dbt project (dbt_project/) against a warehouse file, once per ingest."""

from __future__ import annotations

import os
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


def dbt_project_exists() -> bool:
    return (DBT_PROJECT_DIR / "dbt_project.yml").exists()


def run_dbt(db_path: Path, args: tuple[str, ...] = ("build",), *, quiet: bool = True) -> DbtOutcome:
    """Invoke dbt in-process (its start-up costs ~2 s, so once per ingest, not once per model)."""
    os.environ["BATCHLEDGER_DBT_DB"] = str(db_path)
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    from dbt.cli.main import dbtRunner  # heavy import: only when dbt actually runs

    flags = ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
    if quiet:
        flags.append("--quiet")
    result = dbtRunner().invoke([*args, *flags])
    outcome = DbtOutcome(success=bool(result.success))
    for node_result in getattr(result.result, "results", None) or []:
        status = str(getattr(node_result.status, "value", node_result.status))
        outcome.statuses[status] += 1
        label = f"{node_result.node.name}: {node_result.message or status}"
        if status == "warn":
            outcome.warnings.append(label)
        elif status in {"fail", "error"}:
            outcome.failures.append(label)
    if result.exception is not None:
        outcome.failures.append(f"dbt: {result.exception}")
    return outcome
