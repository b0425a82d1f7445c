"""An incremental build tests the rows it wrote; a full build tests every row.

Generic tests of the incremental marts that record `_build_id` read only this build's rows on
an incremental build (macros/get_where_subquery.sql): at 10M items, whole-table tests were
most of the cost of a run with one new job. A key test still compares the keys this build
wrote with every row. By hand, one row's cost is broken and its usage time removed, and a
copy of another (older) row is added, both marked as written by one build; the same tests
then fail or pass with the build scope alone.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from batchledger.build import failures_with_checks, write_build_scope
from batchledger.transform import DbtOutcome, run_dbt

from .conftest import BuiltWarehouse, shared_dbt_cache_dir

# The generic tests of fct_batch_items.
SELECTOR = "fct_batch_items,test_type:generic"
BROKEN_BY = "2000000000000000002"


def test_an_incremental_build_tests_its_own_rows_and_a_full_build_all_rows(
    warehouse: BuiltWarehouse, tmp_path: Path
) -> None:
    db = tmp_path / "warehouse.duckdb"
    shutil.copy(warehouse.db_path, db)
    built = BuiltWarehouse(db, tmp_path, warehouse.build)
    con = duckdb.connect(str(db))
    try:
        row = con.execute(
            "select batch_item_id from marts.fct_batch_items where is_priced "
            "order by batch_item_id limit 1"
        ).fetchone()
        assert row is not None
        con.execute(
            "update marts.fct_batch_items set cost_usd = cost_usd + 1, used_at = null, "
            "_build_id = $build "
            "where batch_item_id = $item",
            {"build": BROKEN_BY, "item": row[0]},
        )
        # A new row with the key of a row an earlier build wrote (whose _build_id differs).
        con.execute(
            "insert into marts.fct_batch_items select * replace ($build as _build_id) "
            "from marts.fct_batch_items where batch_item_id <> $item "
            "order by batch_item_id limit 1",
            {"build": BROKEN_BY, "item": row[0]},
        )
    finally:
        con.close()

    def failures(*, since_load_id: str, build_id: str) -> list[str]:
        write_build_scope(db, since_load_id=since_load_id, build_id=build_id)
        run = built.dbt("test", "--select", SELECTOR)
        results = run.run_results["results"]
        assert results, run.output[-2000:]
        return [r["unique_id"] for r in results if r["status"] == "fail"]

    # An incremental build that wrote the broken row finds it.
    caught = failures(since_load_id="1", build_id=BROKEN_BY)
    for test in (
        "expressions_are_true_fct_batch_items",
        "unique_fct_batch_items_batch_item_id",
        "columns_not_null_fct_batch_items_provider__",
        "unique_combination_of_columns_fct_batch_items_batch_id__custom_id",
    ):
        assert any(f".{test}" in name for name in caught), (test, caught)
    # A model's row checks are one test; a failed build names the check that failed.
    outcome = run_dbt(
        db,
        ("test", "--select", SELECTOR),
        artifacts_dir=tmp_path,
        cache_dir=shared_dbt_cache_dir(),
    )
    named = [
        failure
        for failure in failures_with_checks(db, outcome)
        if failure.startswith("expressions_are_true_fct_batch_items:")
    ]
    assert len(named) == 1, outcome.failures
    assert named[0].endswith(
        "\n    failed check: cost_usd = input_cost_usd + output_cost_usd + audio_cost_usd (1 row)"
    ), named
    # An incremental build that did not write it does not read it.
    assert failures(since_load_id="1", build_id="2000000000000000003") == []
    # A full build reads every row, whoever wrote it.
    assert sorted(failures(since_load_id="", build_id="2000000000000000003")) == sorted(caught)


def test_a_build_out_of_memory_says_what_to_change(tmp_path: Path) -> None:
    failure = (
        "fct_batch_items: Out of Memory Error: failed to allocate data of size 16.0 MiB "
        "(512.0 MiB/512.0 MiB used)"
    )
    outcome = DbtOutcome(success=False, failures=[failure, "unique_x: Got 1 result"])
    named = failures_with_checks(tmp_path / "warehouse.duckdb", outcome)
    assert named[0].startswith(failure + "\n")
    assert "BATCHLEDGER_DBT_DUCKDB_THREADS=1" in named[0]
    assert named[1] == "unique_x: Got 1 result"
