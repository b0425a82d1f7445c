"""The together_batches source on its own, loaded into a throwaway DuckDB as dlt's verified
sources test theirs: its shape (resources named for their tables, each declaring how it writes),
one load package per run, and what a rerun writes."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pytest

from batchledger.emulator import Emulator
from batchledger.paths import PRICES_DIR
from batchledger.sources.together_batches import SourceOptions, together_batches
from batchledger.sources.together_batches.events import FileParsed, SourceEvent
from batchledger.sources.together_batches.helpers import (
    IngestPlan,
    KnownState,
    list_account,
    plan_ingest,
    record_hash,
    shadowing_endpoint_warnings,
)
from batchledger.sources.together_batches.settings import RAW_TABLES
from batchledger.together import TogetherClient, TogetherNotFoundError
from batchledger.warehouse import read_known_state
from tests.conftest import TEST_API_KEY
from tests.ingest.test_ingest import counts, expected_counts

LINE_KEY = ["file_id", "line_number"]


def _load(
    emulator: Emulator, root: Path, known: KnownState, events: list[SourceEvent] | None = None
) -> tuple[Any, IngestPlan]:
    """One run of the source into root/warehouse.duckdb; its load info and plan."""
    db = root / "warehouse.duckdb"
    pipeline = dlt.pipeline(
        pipeline_name="together_batches",
        destination=dlt.destinations.duckdb(str(db)),
        dataset_name="raw_together",
        pipelines_dir=str(root / "dlt"),
    )
    options = SourceOptions(
        landing_dir=root / "landing",
        scratch_dir=root,
        on_event=events.append if events is not None else None,
    )
    with TogetherClient(TEST_API_KEY, emulator.base_url or "") as client:
        plan = list_account(client, known)
        info = pipeline.run(together_batches(client, plan, options), loader_file_format="parquet")
    return info, plan


@pytest.fixture(autouse=True)
def _load_ids_on_arrow_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    # As ingest sets it: Arrow items (file lines) carry _dlt_load_id too.
    monkeypatch.setenv("NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID", "true")
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")


def test_each_resource_is_named_for_its_table_and_declares_how_it_writes(tmp_path: Path) -> None:
    plan = IngestPlan(
        batches=[], changed_batches=[], status_changes=[], changed_files=[], pending=[],
        file_metadata={},
    )  # fmt: skip
    source = together_batches(None, plan, SourceOptions(landing_dir=None, scratch_dir=tmp_path))
    resources = source.resources
    assert set(resources) == {
        "batches",
        "batch_status_history",
        "files",
        "batch_requests",
        "batch_results",
        "endpoints",
    }
    assert not resources["batches"].is_transformer
    assert not resources["endpoints"].is_transformer
    for name in ("batch_status_history", "files", "batch_requests", "batch_results"):
        assert resources[name].is_transformer, name
    keys = {
        name: (resource.write_disposition, resource.compute_table_schema()["columns"])
        for name, resource in resources.items()
    }
    primary = {
        name: sorted(c for c, hint in columns.items() if hint.get("primary_key"))
        for name, (_, columns) in keys.items()
    }
    assert {name: disposition for name, (disposition, _) in keys.items()} == dict.fromkeys(
        resources, "merge"
    )
    assert primary == {
        "batches": ["id"],
        "batch_status_history": ["batch_id", "observed_at"],
        "files": ["id"],
        "batch_requests": LINE_KEY,
        "batch_results": LINE_KEY,
        "endpoints": ["id"],
    }


@pytest.mark.slow
def test_one_run_is_one_load_package_holding_each_file_with_its_lines(
    emulator: Emulator, tmp_path: Path
) -> None:
    events: list[SourceEvent] = []
    info, plan = _load(emulator, tmp_path, KnownState(), events)
    db = tmp_path / "warehouse.duckdb"
    assert len(info.loads_ids) == 1
    assert counts(db) == expected_counts(emulator.scenario, emulator)
    assert sorted(e.file.file_id for e in events if isinstance(e, FileParsed)) == sorted(
        item.file_id for item in plan.pending
    )
    with duckdb.connect(str(db), read_only=True) as con:
        # Every table's rows came in that one package.
        for table in (
            "batches",
            "files",
            "file_loads",
            "batch_requests",
            "batch_results",
            "endpoints",
        ):
            loads = con.execute(f"select distinct _dlt_load_id from raw_together.{table}")
            assert loads.fetchall() == [(info.loads_ids[0],)], table
        # Each file's line count is what its file_loads row says.
        mismatched = con.execute(
            """
            with lines as (
                select file_id, count(*) as lines from raw_together.batch_requests group by all
                union all
                select file_id, count(*) from raw_together.batch_results group by all
            )
            select file_loads.file_id
            from raw_together.file_loads
            left join lines on lines.file_id = file_loads.file_id
            where coalesce(lines.lines, 0) <> file_loads.lines_loaded
            """
        ).fetchall()
        assert mismatched == []
        types = dict(
            con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = 'raw_together' and table_name = 'file_loads'"
            ).fetchall()
        )
    assert types["lines_loaded"] == "BIGINT" and types["loaded_at"] == "TIMESTAMP WITH TIME ZONE"


@pytest.mark.slow
def test_a_file_of_an_unchanged_job_loads_without_rewriting_the_job(
    emulator: Emulator, tmp_path: Path
) -> None:
    """A file left unloaded by an earlier run (unavailable then) is loaded on the next: its job
    object has not changed, so the job reaches the transformers without a new batches row."""
    _load(emulator, tmp_path, KnownState())
    db = tmp_path / "warehouse.duckdb"
    first = counts(db)
    with duckdb.connect(str(db)) as con:
        row = con.execute(
            "select file_id from raw_together.file_loads where file_kind = 'output' limit 1"
        ).fetchone()
        assert row is not None
        file_id = row[0]
        for table in ("file_loads", "batch_results"):
            con.execute(f"delete from raw_together.{table} where file_id = ?", [file_id])
    info, plan = _load(emulator, tmp_path, read_known_state(db))
    assert [item.file_id for item in plan.pending] == [file_id]
    assert plan.changed_batches == [] and plan.status_changes == [] and plan.changed_files == []
    assert plan.changed_endpoints == []
    assert counts(db) == first
    with duckdb.connect(str(db), read_only=True) as con:
        written = {
            table: con.execute(
                f"select count(*) from raw_together.{table} where _dlt_load_id = ?",
                [info.loads_ids[0]],
            ).fetchone()
            for table in ("batches", "batch_status_history", "files", "file_loads", "endpoints")
        }
    assert written == {
        "endpoints": (0,),  # unchanged endpoints are not written again
        "batches": (0,),
        "batch_status_history": (0,),
        "files": (0,),
        "file_loads": (1,),
    }


class _NoEndpointList:
    """A Together-compatible server without GET /v1/endpoints."""

    def list_batches(self) -> list[dict[str, Any]]:
        return []

    def list_files(self) -> list[dict[str, Any]]:
        return []

    def list_endpoints(self, endpoint_type: str | None = None) -> list[dict[str, Any]]:
        raise TogetherNotFoundError("GET /v1/endpoints: not found")


def test_a_server_without_the_endpoint_list_still_ingests(caplog: pytest.LogCaptureFixture) -> None:
    """Dedicated jobs are then recognised by the price seed alone; the run goes on."""
    plan = list_account(_NoEndpointList(), KnownState())  # type: ignore[arg-type]
    assert plan.changed_endpoints == []
    assert "prices/dedicated_endpoints.csv only this run" in caplog.text
    # And in the run's summary, not the log alone.
    assert [w for w in plan.warnings if "prices/dedicated_endpoints.csv" in w]


def test_an_endpoint_is_written_again_only_when_it_changed() -> None:
    endpoint = {"id": "endpoint-1", "name": "acme/x-1", "type": "dedicated", "state": "STARTED"}
    first = plan_ingest([], [], KnownState(), lambda *_: None, [endpoint])
    assert first.changed_endpoints == [endpoint] and not first.is_empty
    known = KnownState(
        endpoint_hashes={"endpoint-1": record_hash(endpoint)}, tables=frozenset(RAW_TABLES)
    )
    assert plan_ingest([], [], known, lambda *_: None, [endpoint]).is_empty
    stopped = {**endpoint, "state": "STOPPED"}
    assert plan_ingest([], [], known, lambda *_: None, [stopped]).changed_endpoints == [stopped]


def test_an_endpoint_named_like_a_priced_model_is_named_in_a_warning(tmp_path: Path) -> None:
    """The marts keep that model's jobs at their token price (the dedicated warehouse test
    shows it); the run says why, unless the dedicated seed names the endpoint."""
    shutil.copytree(PRICES_DIR, tmp_path / "prices")
    llama = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
    listed = [
        {"id": "endpoint-1", "name": llama.upper(), "type": "dedicated"},
        {"id": "endpoint-2", "name": "acme-ai/own-endpoint-1", "type": "dedicated"},
    ]
    (warning,) = shadowing_endpoint_warnings(listed, tmp_path / "prices")
    assert llama.upper() in warning and "stay priced per token" in warning
    seed = tmp_path / "prices" / "dedicated_endpoints.csv"
    with seed.open("a") as handle:
        handle.write(f"together,{llama},{llama},h100,1,2026-01-01 00:00:00,2026-01-02 00:00:00,t\n")
    assert shadowing_endpoint_warnings(listed, tmp_path / "prices") == []
