"""The ops store: one folder per warehouse, and the dlt source that loads it into the warehouse."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import dlt
import duckdb
import pytest

from batchledger.invoices import read_invoice
from batchledger.paths import DEMO_INVOICE
from batchledger.settings import DEMO_DB
from batchledger.sources.batchledger_ops import batchledger_ops
from batchledger.sources.batchledger_ops.helpers import has_records, plain_decimal
from batchledger.sources.batchledger_ops.settings import DATASET_NAME
from batchledger.store import Submission, ops_dir, record_invoice, record_submission, tags_in
from tests.conftest import make_settings


def submission(batch_id: str, parent: str | None = None, **tags: str) -> Submission:
    return Submission(
        batch_id=batch_id,
        submitted_at="2026-11-20T12:00:00+00:00",
        file="/tmp/in.jsonl",
        input_file_id=f"file-{batch_id}",
        model="m",
        lines=3,
        estimate_usd="4.84E-7",
        tags=tags,
        parent_batch_id=parent,
    )


def test_each_warehouse_has_its_own_ops_store(tmp_path: Path) -> None:
    real = make_settings(tmp_path, "http://x")
    demo = make_settings(tmp_path, "http://x", db_path=tmp_path / "data" / DEMO_DB.name)
    assert ops_dir(real) == tmp_path / "data" / ".ops" / "warehouse"
    assert ops_dir(demo) == tmp_path / "data" / ".ops" / "demo"
    record_submission(real, submission("b-1", team="search"))
    assert has_records(ops_dir(real)) and not has_records(ops_dir(demo))


def test_a_tag_recorded_again_keeps_its_last_value(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, "http://x")
    record_submission(settings, submission("b-1", team="search", project="x"))
    record_submission(settings, submission("b-1", team="ads"))
    with (ops_dir(settings) / "batch_tags.csv").open("a") as torn:
        torn.write("b-2,")  # a crash mid-row leaves no usable tag
    assert sorted((t["tag_key"], t["tag_value"]) for t in tags_in(ops_dir(settings))) == [
        ("project", "x"),
        ("team", "ads"),
    ]


def test_estimates_are_written_in_plain_notation() -> None:
    assert plain_decimal("4.84E-7") == "0.000000484"
    assert plain_decimal(None) is None and plain_decimal("n/a") is None


def test_source_loads_submissions_and_tags_and_merges_on_rerun(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, "http://x")
    record_submission(settings, submission("b-1", team="search", project="x"))
    record_submission(settings, submission("b-2", parent="b-1", team="search", project="x"))
    db = tmp_path / "ops.duckdb"
    pipeline = dlt.pipeline(
        pipeline_name="ops_test",
        destination=dlt.destinations.duckdb(credentials=str(db)),
        dataset_name=DATASET_NAME,
        pipelines_dir=str(tmp_path / "dlt"),
    )
    for _ in range(2):  # a rerun over the same files duplicates nothing
        info = pipeline.run(batchledger_ops(ops_dir(settings)))
        assert not info.has_failed_jobs
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "select batch_id, parent_batch_id, lines, estimate_usd, tags, submitted_at"
            " from raw_batchledger.submissions order by batch_id"
        ).fetchall()
        tags = con.execute(
            "select batch_id, tag_key, tag_value from raw_batchledger.batch_tags order by all"
        ).fetchall()
        types = dict(
            con.execute(
                "select column_name, data_type from information_schema.columns"
                " where table_schema = 'raw_batchledger' and table_name = 'submissions'"
            ).fetchall()
        )
    finally:
        con.close()
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        ("b-1", None, 3, "0.000000484"),
        ("b-2", "b-1", 3, "0.000000484"),
    ]
    assert json.loads(rows[0][4]) == {"team": "search", "project": "x"}
    assert types["submitted_at"] == "TIMESTAMP WITH TIME ZONE" and types["lines"] == "BIGINT"
    assert tags == [
        ("b-1", "project", "x"),
        ("b-1", "team", "search"),
        ("b-2", "project", "x"),
        ("b-2", "team", "search"),
    ]


def test_first_records_load_into_the_empty_tables_without_dlt_warnings(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first ingest creates the tables empty; the first invoice import or submission then
    # loads rows into them, and dlt must find the row key already there (no warning that it
    # adds a unique, not-null column to an existing table).
    monkeypatch.setenv("NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID", "true")  # as ingest
    settings = make_settings(tmp_path, "http://x")
    pipeline = dlt.pipeline(
        pipeline_name="ops_test",
        destination=dlt.destinations.duckdb(credentials=str(tmp_path / "ops.duckdb")),
        dataset_name=DATASET_NAME,
        pipelines_dir=str(tmp_path / "dlt"),
    )
    assert not pipeline.run(batchledger_ops(ops_dir(settings))).has_failed_jobs
    record_invoice(settings, read_invoice(DEMO_INVOICE), imported_at="2026-12-01T09:00:00+00:00")
    record_submission(settings, submission("b-1", team="search"))
    # dlt's logger does not propagate to the root logger: listen to it directly.
    dlt_logger = logging.getLogger("dlt")
    dlt_logger.addHandler(caplog.handler)
    try:
        assert not pipeline.run(batchledger_ops(ops_dir(settings))).has_failed_jobs
    finally:
        dlt_logger.removeHandler(caplog.handler)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    con = duckdb.connect(str(tmp_path / "ops.duckdb"), read_only=True)
    try:
        found = con.execute(
            "select table_name, count(*) from information_schema.columns"
            " where table_schema = ? and column_name = '_dlt_id'"
            " and not starts_with(table_name, '_dlt') group by all order by all",
            [DATASET_NAME],
        ).fetchall()
    finally:
        con.close()
    assert found == [("batch_tags", 1), ("invoice_lines", 1), ("submissions", 1)]
