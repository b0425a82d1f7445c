"""End-to-end ingest against the emulator over loopback HTTP: counts, reruns, faults, quarantine."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import duckdb
import pytest

from batchledger.emulator import DEMO_NOW, Emulator, Scenario, demo_scenario
from batchledger.ingest import IngestResult, run_ingest
from batchledger.settings import Settings
from batchledger.together import RetryPolicy
from tests.conftest import TEST_API_KEY, make_settings
from tests.warehouse.test_dbt_cache import assert_second_warehouse_reused_the_dbt_cache

RAW_TABLES = (
    "batches",
    "batch_status_history",
    "files",
    "file_loads",
    "batch_requests",
    "batch_results",
    "quarantine",
    "endpoints",
)


def ingest(settings: Settings) -> IngestResult:
    return run_ingest(settings, build=False)


def counts(db: Path) -> dict[str, int]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        present = {
            row[0]
            for row in con.execute(
                "select table_name from information_schema.tables "
                "where table_schema = 'raw_together'"
            ).fetchall()
        }
        return {
            table: (
                con.execute(f"select count(*) from raw_together.{table}").fetchone()[0]
                if table in present
                else 0
            )
            for table in RAW_TABLES
        }
    finally:
        con.close()


def expected_counts(scenario: Scenario, emulator: Emulator, quarantined: int = 0) -> dict[str, int]:
    """Exact row counts derived from the scenario's ground truth at the emulator's current time."""
    now = emulator.now()
    files: set[str] = set()
    requests = results = 0
    for job in scenario.jobs:
        files.add(job.input_file_id)
        requests += len(job.items)
        if job.is_terminal_at(now):
            files.update(f for f in (job.output_file_id, job.error_file_id) if f)
            results += sum(item.outcome != "not_processed" for item in job.items)
    return {
        "batches": len(scenario.jobs),
        "batch_status_history": len(scenario.jobs),
        "files": len(files),
        "file_loads": len(files),
        "batch_requests": requests,
        "batch_results": results,
        "quarantine": quarantined,
        # GET /v1/endpoints?type=dedicated: the account's dedicated endpoints only.
        "endpoints": sum(e.type == "dedicated" and e.created_at <= now for e in scenario.endpoints),
    }


@pytest.mark.slow
def test_first_run_loads_exact_scenario_counts(emulator: Emulator, settings: Settings) -> None:
    result = ingest(settings)
    assert counts(settings.db_path) == expected_counts(emulator.scenario, emulator)
    assert result.report.quarantined == 0
    assert len(result.report.batches) == len(emulator.scenario.jobs)


def test_every_raw_table_exists_after_the_first_run_empty_if_need_be(
    emulator: Emulator, settings: Settings
) -> None:
    """A clean account has no unreadable line, yet `raw_together.quarantine` is there to query."""
    ingest(settings)
    con = duckdb.connect(str(settings.db_path), read_only=True)
    try:
        present = {
            row[0]
            for row in con.execute(
                "select table_name from information_schema.tables "
                "where table_schema = 'raw_together'"
            ).fetchall()
        }
        assert set(RAW_TABLES) <= present
        assert con.execute("select count(*) from raw_together.quarantine").fetchone() == (0,)
    finally:
        con.close()


@pytest.mark.slow
def test_an_empty_account_gets_every_raw_table_and_empty_marts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A new account with no job yet: every raw table of both sources exists, empty, and the
    marts build with no rows, so finance's first queries run before the first job does,
    without a warning from dlt. A second new warehouse beside it starts from the first's dbt
    cache."""
    monkeypatch.setenv("BATCHLEDGER_DBT_CACHE_DIR", str(tmp_path / "dbt-cache"))
    with Emulator(scenario=Scenario(now=DEMO_NOW), api_key=TEST_API_KEY, time_scale=0.0) as emu:
        settings = make_settings(tmp_path, emu.base_url)
        # dlt logs to its own handler and does not propagate: listen to its logger too.
        dlt_logger = logging.getLogger("dlt")
        dlt_logger.addHandler(caplog.handler)
        try:
            with caplog.at_level(logging.WARNING):
                result = run_ingest(settings)
        finally:
            dlt_logger.removeHandler(caplog.handler)
        assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
        beside = make_settings(tmp_path / "beside", emu.base_url)
        assert run_ingest(beside).build is not None
    assert result.build is not None
    assert_second_warehouse_reused_the_dbt_cache(settings.work_dir, beside.work_dir)
    con = duckdb.connect(str(settings.db_path), read_only=True)
    try:
        present = {
            row[0]
            for row in con.execute(
                "select schema_name || '.' || table_name from duckdb_tables() "
                "where schema_name in ('raw_together', 'raw_batchledger', 'marts')"
            ).fetchall()
        }
        expected = {f"raw_together.{t}" for t in RAW_TABLES} | {
            "raw_batchledger.submissions",
            "raw_batchledger.batch_tags",
            "raw_batchledger.invoice_lines",
        }
        assert expected <= present
        marts = {"marts.fct_batch_items", "marts.cost_by_job", "marts.invoice_reconciliation"}
        for table in sorted(expected | marts):
            assert con.execute(f"select count(*) from {table}").fetchone() == (0,), table
        # The typed columns are there, so a first query by name runs.
        con.execute("select id, status, created_at from raw_together.batches").fetchall()
        con.execute("select batch_id, tag_key, tag_value from raw_batchledger.batch_tags")
    finally:
        con.close()
    # The next run is a no-op: nothing to create, nothing changed.
    with Emulator(scenario=Scenario(now=DEMO_NOW), api_key=TEST_API_KEY, time_scale=0.0) as emu:
        again = run_ingest(make_settings(tmp_path, emu.base_url))
    assert again.up_to_date
    # The first jobs then land in the tables made empty, rows and types as on any account.
    scenario = demo_scenario()
    with Emulator(scenario=scenario, api_key=TEST_API_KEY, time_scale=0.0) as emu:
        first_jobs = run_ingest(make_settings(tmp_path, emu.base_url))
        assert counts(settings.db_path) == expected_counts(scenario, emu)
    assert first_jobs.build is not None and not first_jobs.up_to_date
    con = duckdb.connect(str(settings.db_path), read_only=True)
    try:
        items = con.execute("select count(*) from marts.fct_batch_items").fetchone()
        assert items == (sum(len(job.items) for job in scenario.jobs),)
    finally:
        con.close()


def test_lines_carry_what_the_files_said(emulator: Emulator, settings: Settings) -> None:
    ingest(settings)
    con = duckdb.connect(str(settings.db_path), read_only=True)
    rows = con.execute(
        """
        select r.custom_id, r.file_kind, r.usage, r.created, r.error_code, q.metadata, q.model,
            r.audio_duration
        from raw_together.batch_results as r
        join raw_together.batch_requests as q using (batch_id, custom_id)
        """
    ).fetchall()
    con.close()
    truth = {item.custom_id: item for job in emulator.scenario.jobs for item in job.items}
    assert rows
    audio_lines = 0
    for custom_id, kind, usage, created, error_code, metadata, model, duration in rows:
        item = truth[custom_id]
        assert model == item.model
        assert (json.loads(metadata) if metadata else None) == item.metadata
        if item.audio is not None and item.outcome == "succeeded":
            # An audio result: no usage or created; its duration as the JSON text it was
            # written as (verbose_json only), never through a float.
            assert (kind, usage, created) == ("output", None, None)
            assert duration == (str(item.audio_duration) if item.audio_duration else None)
            audio_lines += 1
        elif item.outcome == "succeeded":
            assert duration is None
            assert kind == "output"
            usage = json.loads(usage)
            assert usage["prompt_tokens"] == item.prompt_tokens
            assert usage["completion_tokens"] == item.completion_tokens
            assert created == item.created
            # Unknown usage keys survive whole.
            cached = usage.get("prompt_tokens_details", {}).get("cached_tokens")
            assert cached == item.cached_tokens
        else:
            assert kind == "error"
            assert error_code == item.error_code
    assert audio_lines == 19


def test_rerun_adds_nothing_and_downloads_no_content(
    emulator: Emulator, settings: Settings
) -> None:
    ingest(settings)
    first = counts(settings.db_path)
    emulator.reset_log()
    result = ingest(settings)
    assert counts(settings.db_path) == first
    assert emulator.content_downloads() == 0
    assert result.report.files_loaded == 0
    assert result.report.status_changes == 0


@pytest.mark.slow
def test_job_that_completes_between_runs_is_updated_and_its_files_loaded(
    emulator: Emulator, settings: Settings
) -> None:
    ingest(settings)
    running = [j for j in emulator.scenario.jobs if not j.is_terminal_at(emulator.now())]
    assert running, "the demo scenario keeps one job in progress"
    job = running[0]
    emulator.advance(3 * 3600)
    emulator.reset_log()
    result = ingest(settings)
    assert counts(settings.db_path) == {
        **expected_counts(emulator.scenario, emulator),
        "batch_status_history": len(emulator.scenario.jobs) + len(running),
    }
    con = duckdb.connect(str(settings.db_path), read_only=True)
    status, output_file = con.execute(
        "select status, output_file_id from raw_together.batches where id = ?", [job.batch_id]
    ).fetchone()
    timeline = con.execute(
        "select status from raw_together.batch_status_history where batch_id = ? "
        "order by observed_at",
        [job.batch_id],
    ).fetchall()
    con.close()
    assert status == "COMPLETED"
    assert output_file == job.output_file_id
    assert [s for (s,) in timeline][-1] == "COMPLETED"
    assert len(timeline) == 2
    # Only the newly finished job's files were fetched.
    assert emulator.content_downloads() == len(
        [f for f in (job.output_file_id, job.error_file_id) if f]
    )
    assert result.report.files_loaded == emulator.content_downloads()


@pytest.mark.slow
def test_retries_survive_429s_500s_and_a_reset_mid_download(
    emulator: Emulator, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Fast backoff; Retry-After from the emulator is still honoured.
    monkeypatch.setattr(
        "batchledger.together.client.RetryPolicy", lambda: RetryPolicy(base_delay=0.01)
    )
    emulator.faults.retry_after_seconds = 0.2
    emulator.faults.rate_limit_burst = 3
    emulator.faults.server_errors = 2
    emulator.faults.reset_downloads = 2
    ingest(settings)
    assert counts(settings.db_path) == expected_counts(emulator.scenario, emulator)
    statuses = [record.status for record in emulator.request_log]
    assert statuses.count(429) == 3
    assert statuses.count(500) == 2
    # Landing copies are whole files: byte-identical to what the server serves.
    for path in (settings.landing_dir / "together").glob("*.jsonl"):
        assert not path.name.endswith(".part")
    assert not list((settings.landing_dir / "together").glob("*.part"))


def test_malformed_line_is_quarantined_and_the_rest_loads(
    emulator: Emulator, settings: Settings
) -> None:
    emulator.faults.malformed_output_line = True
    result = ingest(settings)
    malformed = emulator.malformed_lines
    assert malformed, "the emulator reports where it put the bad lines"
    assert counts(settings.db_path) == expected_counts(
        emulator.scenario, emulator, quarantined=len(malformed)
    )
    con = duckdb.connect(str(settings.db_path), read_only=True)
    rows = con.execute(
        "select file_id, line_number, error, raw_text from raw_together.quarantine"
    ).fetchall()
    con.close()
    assert sorted((f, n) for f, n, _, _ in rows) == sorted(malformed)
    assert all(error == "invalid JSON" and raw for _, _, error, raw in rows)
    assert result.report.quarantined == len(malformed)


@pytest.mark.slow
def test_crash_between_download_and_load_loses_nothing(
    emulator: Emulator, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dlt import Pipeline

    real_load = Pipeline.load

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("simulated crash before load")

    monkeypatch.setattr(Pipeline, "load", crash)
    with pytest.raises(Exception, match="simulated crash"):
        ingest(settings)
    assert not settings.db_path.exists(), "nothing half-done is published"
    monkeypatch.setattr(Pipeline, "load", real_load)
    emulator.reset_log()
    ingest(settings)
    assert counts(settings.db_path) == expected_counts(emulator.scenario, emulator)
    # The complete landing copies from the crashed run were reused, not downloaded again.
    assert emulator.content_downloads() == 0


@pytest.mark.slow
def test_without_landing_copies_nothing_is_kept(emulator: Emulator, tmp_path: Path) -> None:
    from tests.conftest import make_settings

    settings = make_settings(tmp_path, emulator.base_url, landing_dir=None)
    ingest(settings)
    assert counts(settings.db_path) == expected_counts(emulator.scenario, emulator)
    leftovers = [p for p in (tmp_path / "data").rglob("*.jsonl")]
    assert leftovers == []


@pytest.mark.slow
def test_prompts_and_completions_are_stored_only_on_opt_in(
    emulator: Emulator, settings: Settings, tmp_path: Path
) -> None:
    from tests.conftest import make_settings

    ingest(settings)
    con = duckdb.connect(str(settings.db_path), read_only=True)
    assert con.execute(
        "select count(*) from raw_together.batch_requests where body is not null"
    ).fetchone() == (0,)
    assert con.execute(
        "select count(*) from raw_together.batch_results where completion_text is not null"
    ).fetchone() == (0,)
    con.close()
    opted = make_settings(
        tmp_path / "opted", emulator.base_url, store_prompts=True, store_completions=True
    )
    ingest(opted)
    con = duckdb.connect(str(opted.db_path), read_only=True)
    bodies = con.execute("select count(*) from raw_together.batch_requests where body is null")
    assert bodies.fetchone() == (0,)
    texts = con.execute(
        "select count(*) from raw_together.batch_results "
        "where file_kind = 'output' and completion_text is null"
    )
    assert texts.fetchone() == (0,)
    con.close()


def test_a_demo_summary_says_its_sample_invoice_is_imported(tmp_path: Path) -> None:
    """The demo ingest imports the bundled invoice (a real warehouse never gets one): its
    summary says so, for the tie-out rows a user will find in invoice_reconciliation."""
    from rich.console import Console

    from batchledger.cli.summary import print_summary
    from batchledger.ingest import IngestReport

    for demo in (True, False):
        settings = make_settings(tmp_path, "http://127.0.0.1:9", demo=demo)
        result = IngestResult(
            settings=settings, report=IngestReport(batches=[]), build=None, seconds=0.0, stages={}
        )
        shown = Console(record=True, width=200)
        print_summary(result, shown)
        said = "together-invoice-demo.csv) is imported for marts.invoice_reconciliation"
        assert (said in shown.export_text()) == demo
