"""Build the marts for what changed since the last published build, and publish them.

One decision for `ingest` and `transform` (see build_state.py for what is compared):
up to date (no dbt, no publish), incremental (the batches newer loads touched) or full.
"""

from __future__ import annotations

import hashlib
import logging
import os
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
from batchledger.exports import export_marts
from batchledger.settings import duckdb_memory_limit, parquet_marts_enabled
from batchledger.transform import DbtChild, DbtOutcome
from batchledger.warehouse import SCOPE_SCHEMA, publish

log = logging.getLogger(__name__)

# An incremental build runs with the same code, seeds and raw columns as the last one, so it
# skips what only those can change: unit tests (they test the models' code), seeds, and the
# staging views with the tests on them (renames and casts of raw tables, recreated and tested
# on every full build). The intermediate models are rebuilt: int_batch_items_joined is scoped
# to the batches this build computes. The item marts, the rollups and every test on them run.
INCREMENTAL_BUILD: tuple[str, ...] = (
    "build",
    "--exclude",
    "test_type:unit",
    "resource_type:seed",
    "path:models/staging",
)
# A full build runs the unit tests only for a version of the code (and of the raw columns,
# which unit tests read their inputs' shapes from) that has not passed them yet: they give
# the same answer for the same code, and cost seconds of every build.
FULL_BUILD: tuple[str, ...] = ("build", "--full-refresh")
WITHOUT_UNIT_TESTS = ("--exclude", "test_type:unit")


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
    # Why a full build was full, in words for the summary.
    reason: str = ""
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
    dbt: DbtChild | None = None,
) -> BuildResult:
    """Bring the published warehouse up to date with the working database's raw tables.

    `ops_inputs` is the fingerprint of the ops store as just loaded; None (no load this run)
    keeps the recorded one, so the next ingest still loads what changed there. `dbt` is a
    child started early (see DbtChild); without one, a build starts its own."""
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
    if result.mode == "full":
        if full_refresh:
            result.reason = "asked for with --full-refresh"
        elif previous is not None:
            result.reason = "dbt_project/, prices/ or the raw columns changed"
        elif published.exists():
            # The state is forgotten while a build runs (one failed, was killed or was not
            # published) and unreadable when another version wrote it: start over.
            result.reason = (
                "no record of the last build: it failed or was stopped, or its record is gone"
            )
        else:
            result.reason = "first build"
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
        write_build_scope(
            work_db,
            since_load_id="" if full or previous is None else previous.loaded_through,
            build_id=state.build_id,
        )
        unit_tested = _unit_tests_passed(work_dir, dbt_inputs)
        runs_unit_tests = full and not unit_tested.exists()
        if not full:
            args = INCREMENTAL_BUILD
        else:
            args = FULL_BUILD if runs_unit_tests else FULL_BUILD + WITHOUT_UNIT_TESTS
        with dbt or dbt_child(work_db, work_dir, quiet=quiet) as child:
            outcome = child.run(args)
        drop_build_scope(work_db)
        if outcome.success and runs_unit_tests:
            _touch(unit_tested)
        result.dbt = outcome
        result.stages["dbt"] = time.monotonic() - started
        if not outcome.success:
            raise BuildError(
                "dbt build failed; the published warehouse was left as it was:\n  "
                + "\n  ".join(
                    failures_with_checks(work_db, outcome) or ["see the dbt output above"]
                ),
                outcome,
            )
    else:
        result.mode = "publish_only"
    started = time.monotonic()
    publish(work_db, published)
    result.stages["publish"] = time.monotonic() - started
    if parquet_marts_enabled():
        started = time.monotonic()
        try:
            export_marts(work_db, published, state.build_id)
        except (OSError, RuntimeError, duckdb.Error) as exc:
            # The warehouse is published: a problem beside it (a symlink loop or a file in
            # data/marts) must not fail the run or make the next one rebuild everything.
            log.warning("Parquet marts not written (%s); the warehouse is up to date", exc)
        result.stages["parquet"] = time.monotonic() - started
    write_build_state(work_dir, state)
    return result


# The column an expressions_are_true test names each failing check in
# (dbt_project/data-tests/generic/expressions_are_true.sql).
FAILED_CHECK_COLUMN = "failed_expression"


# What a build that ran out of memory can change (profiles.yml): fewer threads want less.
OUT_OF_MEMORY_HINT = (
    "\n    DuckDB ran out of memory: set BATCHLEDGER_DBT_DUCKDB_THREADS=1, or raise"
    " BATCHLEDGER_DUCKDB_MEMORY_LIMIT"
)


def failures_with_checks(work_db: Path, outcome: DbtOutcome) -> list[str]:
    """The build's failures, each test that groups a model's row checks followed by the checks
    that failed and on how many rows: dbt itself says only how many rows failed. Asked of the
    working database the failed build left (never published); a question that cannot be
    answered leaves the failure as dbt gave it. A node that ran out of memory says what to
    change."""
    named = []
    for failure in outcome.failures:
        if "Out of Memory" in failure:
            named.append(failure + OUT_OF_MEMORY_HINT)
            continue
        node = failure.split(":", 1)[0]
        sql = outcome.failed_tests.get(node, "")
        if f"as {FAILED_CHECK_COLUMN}," not in sql:
            named.append(failure)
            continue
        try:
            con = duckdb.connect(
                str(work_db), read_only=True, config={"memory_limit": duckdb_memory_limit()}
            )
            try:
                # The SQL is dbt's compiled test, read back from its run_results.json.
                con.execute("set enable_external_access = false")
                checks = con.execute(
                    f"select {FAILED_CHECK_COLUMN}, count(*) from ({sql}) group by all order by all"
                ).fetchall()
            finally:
                con.close()
        except duckdb.Error:
            named.append(failure)
            continue
        named.append(
            failure
            + "".join(
                f"\n    failed check: {check} ({rows} row{'' if rows == 1 else 's'})"
                for check, rows in checks
            )
        )
    return named


def dbt_artifacts_dir(work_dir: Path) -> Path:
    """dbt's target and log folders for a warehouse: kept between builds, so that dbt parses
    only what changed."""
    return work_dir / "dbt"


def dbt_cache_dir(work_dir: Path) -> Path:
    """What the warehouses beside this one (the demo's and a real one) share: dbt's parse of
    the project and which versions of it passed their unit tests. BATCHLEDGER_DBT_CACHE_DIR
    moves it, so that warehouses in other folders share it too (the test suite does)."""
    configured = os.environ.get("BATCHLEDGER_DBT_CACHE_DIR")
    return Path(configured) if configured else work_dir.parent / "dbt-cache"


def dbt_child(
    work_db: Path, work_dir: Path, *, quiet: bool = True, parse_first: bool = False
) -> DbtChild:
    """The dbt child of a warehouse's build, with its own target folder and the shared cache."""
    return DbtChild(
        work_db,
        artifacts_dir=dbt_artifacts_dir(work_dir),
        quiet=quiet,
        parse_first=parse_first,
        cache_dir=dbt_cache_dir(work_dir),
    )


def _unit_tests_passed(work_dir: Path, dbt_inputs: str) -> Path:
    return dbt_cache_dir(work_dir) / f"unit-tests-passed-{dbt_inputs[:32]}"


def _touch(marker: Path) -> None:
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    except OSError:
        pass  # the unit tests run again next time: slower, never wrong


def write_build_scope(work_db: Path, *, since_load_id: str, build_id: str) -> None:
    """Record what this build computes where the dbt project reads it at compile time
    (macros/batches_to_build.sql). A table, not a dbt var or environment variable: dbt
    re-parses whatever reads a var or env var that changed, seconds on every build."""
    con = duckdb.connect(str(work_db))
    try:
        con.execute(f"create schema if not exists {SCOPE_SCHEMA}")
        con.execute(
            f"create or replace table {SCOPE_SCHEMA}.build_scope as "
            "select $since::varchar as since_load_id, $build::varchar as build_id",
            {"since": since_load_id, "build": build_id},
        )
    finally:
        con.close()


def drop_build_scope(work_db: Path) -> None:
    """The scope is the build's own: it is never published."""
    con = duckdb.connect(str(work_db))
    try:
        con.execute(f"drop schema if exists {SCOPE_SCHEMA} cascade")
    finally:
        con.close()


def _mode(previous: BuildState | None, now: BuildState, full_refresh: bool) -> BuildMode:
    if full_refresh or previous is None or previous.dbt_inputs != now.dbt_inputs:
        return "full"
    if previous.loaded_through != now.loaded_through:
        return "incremental"
    return "up_to_date"
