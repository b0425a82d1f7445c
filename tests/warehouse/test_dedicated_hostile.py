"""Dedicated endpoints against provider data a reviewer chose to break them: a flagged line on
an endpoint, a batch whose id is `idle`, a job naming the endpoint in another case, and an
endpoint listed under the name of a priced serverless model. The build must pass (so it
publishes) and every window must still add up: jobs plus idle equal the window's cost.

One warehouse of its own: the raw fixture plus these rows."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.duck import dict_rows

from . import raw_fixture as rf
from .conftest import DbtRun, run_dbt_in

D = rf.DEDICATED
WINDOW = f"together|{D}|2026-11-12 08:00:00"
WINDOW_COST = Decimal("6.72") * 12
# A dedicated endpoint the API lists under the name of a model priced per token.
SHADOW_ENDPOINT = {
    **rf.ENDPOINTS[0],
    "id": "endpoint-7d1e2f30-4a5b-4c6d-8e9f-0a1b2c3d4e5f",
    "name": rf.LLAMA,
    "record_hash": "2" * 64,
}


def _hostile_rows() -> dict[str, list[dict[str, Any]]]:
    batches = [
        # A succeeded line with no usage (flagged), its completion before the job's start.
        rf._batch(
            "ded-flag", "COMPLETED", D, "2026-11-12T11:00:00", "2026-11-12T12:00:00",
            input_file="in-flag", output_file="out-flag",
        ),
        # A batch whose id is the idle row's kind.
        rf._batch(
            "idle", "COMPLETED", D, "2026-11-12T13:00:00", "2026-11-12T14:00:00",
            input_file="in-idle", output_file="out-idle",
        ),
        # A job that names the endpoint in upper case.
        rf._batch(
            "ded-upper", "COMPLETED", D.upper(), "2026-11-12T15:00:00", "2026-11-12T16:00:00",
            input_file="in-upper", output_file="out-upper",
        ),
    ]  # fmt: skip
    requests = [
        rf._request("ded-flag", "in-flag", 1, "f-1", D, None),
        rf._request("ded-flag", "in-flag", 2, "f-2", D, None),
        rf._request("idle", "in-idle", 1, "i-1", D, None),
        rf._request("ded-upper", "in-upper", 1, "u-1", D.upper(), None),
    ]
    results = [
        rf._result("ded-flag", "out-flag", 1, "f-1", usage=None, model=D,
                   created="2026-11-12T10:30:00"),
        rf._result("ded-flag", "out-flag", 2, "f-2", usage=rf._usage(100, 10), model=D,
                   created="2026-11-12T11:30:00"),
        rf._result("idle", "out-idle", 1, "i-1", usage=rf._usage(200, 20), model=D,
                   created="2026-11-12T13:30:00"),
        rf._result("ded-upper", "out-upper", 1, "u-1", usage=rf._usage(300, 30),
                   model=D.upper(), created="2026-11-12T15:30:00"),
    ]  # fmt: skip
    loads = [
        rf._file_load(file_id, batch_id, kind, lines)
        for file_id, batch_id, kind, lines in (
            ("in-flag", "ded-flag", "input", 2),
            ("out-flag", "ded-flag", "output", 2),
            ("in-idle", "idle", "input", 1),
            ("out-idle", "idle", "output", 1),
            ("in-upper", "ded-upper", "input", 1),
            ("out-upper", "ded-upper", "output", 1),
        )
    ]
    return {
        "BATCHES": [*rf.BATCHES, *batches],
        "REQUESTS": [*rf.REQUESTS, *requests],
        "RESULTS": [*rf.RESULTS, *results],
        "FILE_LOADS": [*rf.FILE_LOADS, *loads],
        "ENDPOINTS": [*rf.ENDPOINTS, SHADOW_ENDPOINT],
    }


def _build(tmp_dir: Path) -> tuple[Path, DbtRun]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in _hostile_rows().items():
            patch.setattr(rf, name, value)
        db_path = rf.build_raw_fixture(tmp_dir / "warehouse.duckdb")
    # Unit tests do not read the raw tables: the session's build ran them.
    return db_path, run_dbt_in(db_path, tmp_dir, "build", "--exclude", "test_type:unit")


@pytest.mark.slow
def test_hostile_dedicated_rows_build_and_every_window_adds_up(tmp_path: Path) -> None:
    """One test, one build: xdist would otherwise build this warehouse on both workers."""
    db_path, build = _build(tmp_path)
    # Every dbt test passes (assert_dedicated_costs_reconcile and the unique line id among
    # them), so an ingest publishes this build.
    assert build.success, build.output[-4000:]
    with duckdb.connect(str(db_path), read_only=True) as con:
        _a_flagged_dedicated_line_is_in_no_window_and_the_window_adds_up(con)
        _a_batch_named_idle_has_a_line_id_of_its_own(con)
        _a_job_naming_the_endpoint_in_another_case_is_dedicated(con)
        _an_endpoint_listed_under_a_priced_model_name_leaves_its_jobs_serverless(con)


def _a_flagged_dedicated_line_is_in_no_window_and_the_window_adds_up(
    con: duckdb.DuckDBPyConnection,
) -> None:
    (flagged,) = dict_rows(
        con,
        "select * from marts.fct_batch_items"
        " where batch_id = 'ded-flag' and usage_issue is not null",
    )
    assert flagged["endpoint_window_id"] is None and flagged["cost_usd"] is None
    found = dict_rows(
        con,
        f"select * from marts.dedicated_endpoint_costs where endpoint_window_id = '{WINDOW}'",
    )
    assert {row["endpoint_cost_usd"] for row in found} == {WINDOW_COST}
    assert sum(Decimal(str(row["cost_usd"])) for row in found) == WINDOW_COST
    jobs = {row["batch_id"] for row in found if row["line_kind"] == "job"}
    assert {"ded-flag", "idle", "ded-upper"} <= jobs
    # Each job line is the sum of its items' costs.
    items = dict(
        con.execute(
            "select batch_id, sum(cost_usd) from marts.fct_batch_items"
            f" where endpoint_window_id = '{WINDOW}' group by batch_id"
        ).fetchall()
    )
    assert {row["batch_id"]: row["cost_usd"] for row in found if row["line_kind"] == "job"} == (
        items
    )


def _a_batch_named_idle_has_a_line_id_of_its_own(con: duckdb.DuckDBPyConnection) -> None:
    ids = {
        row["dedicated_cost_line_id"]: (row["line_kind"], row["batch_id"])
        for row in dict_rows(
            con,
            f"select * from marts.dedicated_endpoint_costs where endpoint_window_id = '{WINDOW}'",
        )
    }
    assert ids[f"{WINDOW}|job|idle"] == ("job", "idle")
    assert ids[f"{WINDOW}|idle"] == ("idle", None)


def _a_job_naming_the_endpoint_in_another_case_is_dedicated(
    con: duckdb.DuckDBPyConnection,
) -> None:
    (item,) = dict_rows(con, "select * from marts.fct_batch_items where batch_id = 'ded-upper'")
    assert item["dedicated_endpoint"] == D
    assert item["pricing_mode_applied"] == "dedicated"
    assert item["endpoint_window_id"] == WINDOW and Decimal(str(item["cost_usd"])) > 0


def _an_endpoint_listed_under_a_priced_model_name_leaves_its_jobs_serverless(
    con: duckdb.DuckDBPyConnection,
) -> None:
    llama = dict_rows(con, f"select * from marts.fct_batch_items where model = '{rf.LLAMA}'")
    assert llama
    assert all(item["dedicated_endpoint"] is None for item in llama)
    assert all(item["pricing_mode_applied"] != "dedicated" for item in llama)
    assert any(item["cost_usd"] is not None for item in llama)
