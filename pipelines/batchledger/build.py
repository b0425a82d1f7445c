"""Build the marts for what changed since the last published build, and publish them.

One decision for `ingest` and `transform` (see build_state.py for what is compared):
up to date (no dbt, no publish), incremental (the batches newer loads touched) or full.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import duckdb

from batchledger.build_state import (
    BuildState,
    dbt_inputs_fingerprint,
    forget_build_state,
    newest_load_id,
    next_build_id,
    raw_columns_fingerprint,
    read_build_state,
    write_build_state,
)
from batchledger.transform import DbtOutcome, run_dbt
from batchledger.warehouse import publish

# An incremental build runs with the same code, seeds and raw columns as the last one, so it
# skips what only those can change: unit tests (they test the models' code), seeds, and the
# staging views with the tests on them (renames and casts of raw tables, recreated and tested
# on every full build). The intermediate models are rebuilt: int_batch_items_joined is scoped
# to the batches this build computes. The item marts, the rollups and every test on them run.
INCREMENTAL_BUILD = (
    "build",
    "--exclude",
    "test_type:unit",
    "resource_type:seed",
    "path:models/staging",
)

BuildMode = Literal["up_to_date", "incremental", "full", "publish_only"]


class BuildError(RuntimeError):
    """dbt failed: the published warehouse was left as it was."""

    def __init__(self, message: str, outcome: DbtOutcome) -> None:
        super().__init__(message)
        self.outcome = outcome


@dataclass
class BuildResult:
    mode: BuildMode
    dbt: DbtOutcome | None = None
    # Seconds per stage (dbt, publish), for the summary and `make bench`.
    stages: dict[str, float] = field(default_factory=dict)


def build_and_publish(
    work_db: Path,
    published: Path,
    *,
    work_dir: Path,
    ops_inputs: str | None,
    full_refresh: bool = False,
    quiet: bool = True,
) -> BuildResult:
    """Bring the published warehouse up to date with the working database's raw tables.

    `ops_inputs` is the fingerprint of the ops store as just loaded; None (no load this run)
    keeps the recorded one, so the next ingest still loads what changed there."""
    previous = read_build_state(work_dir)
    if ops_inputs is None:
        ops_inputs = previous.ops_inputs if previous is not None else ""
    con = duckdb.connect(str(work_db), read_only=True)
    try:
        loaded_through = newest_load_id(con)
        raw_columns = raw_columns_fingerprint(con)
    finally:
        con.close()
    dbt_inputs = hashlib.sha256((dbt_inputs_fingerprint() + raw_columns).encode()).hexdigest()
    state = BuildState(
        dbt_inputs=dbt_inputs,
        ops_inputs=ops_inputs,
        loaded_through=loaded_through,
        build_id=previous.build_id if previous is not None else "",
    )
    result = BuildResult(mode=_mode(previous, state, full_refresh))
    if result.mode == "up_to_date" and published.exists():
        return result
    if result.mode in {"incremental", "full"}:
        started = time.monotonic()
        full = result.mode == "full"
        state = replace(state, build_id=next_build_id(previous))
        # From here until the publish, the working database may hold a half-done build (new
        # seeds, some models): if it fails or is killed, the next build must be a full one,
        # whatever the inputs then look like.
        forget_build_state(work_dir)
        outcome = run_dbt(
            work_db,
            ("build", "--full-refresh") if full else INCREMENTAL_BUILD,
            artifacts_dir=work_dir / "dbt",
            quiet=quiet,
            build_env=build_env(
                since_load_id="" if full or previous is None else previous.loaded_through,
                build_id=state.build_id,
            ),
        )
        result.dbt = outcome
        result.stages["dbt"] = time.monotonic() - started
        if not outcome.success:
            raise BuildError(
                "dbt build failed; the published warehouse was left as it was:\n  "
                + "\n  ".join(outcome.failures or ["see the dbt output above"]),
                outcome,
            )
    else:
        result.mode = "publish_only"
    started = time.monotonic()
    publish(work_db, published)
    result.stages["publish"] = time.monotonic() - started
    write_build_state(work_dir, state)
    return result


def build_env(*, since_load_id: str, build_id: str) -> dict[str, str]:
    """What the dbt project reads of this build (macros/batches_to_build.sql). Environment
    variables rather than dbt vars: a changed var makes dbt re-parse the whole project."""
    return {"BATCHLEDGER_SINCE_LOAD_ID": since_load_id, "BATCHLEDGER_BUILD_ID": build_id}


def _mode(previous: BuildState | None, now: BuildState, full_refresh: bool) -> BuildMode:
    if full_refresh or previous is None or previous.dbt_inputs != now.dbt_inputs:
        return "full"
    if previous.loaded_through != now.loaded_through:
        return "incremental"
    return "up_to_date"
