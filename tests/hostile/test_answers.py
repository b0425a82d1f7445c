"""Classes 6 and 7: a server that echoes our key, and batch lists full of junk."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from batchledger.emulator import Emulator
from batchledger.ingest import run_ingest
from batchledger.settings import Settings
from batchledger.together.records import MAX_EXTRA_KEYS, clean_batches
from tests.conftest import TEST_API_KEY
from tests.hostile.conftest import assert_key_nowhere
from tests.hostile.server import Answer, Hostile, json_body, on_path
from tests.ingest.test_ingest import counts, expected_counts


def _echo_key(answer: Answer) -> Answer:
    body = (
        f'{{"error": {{"message": "bad request; you sent Authorization: Bearer {TEST_API_KEY} '
        f'and key={TEST_API_KEY}"}}}}'
    ).encode()
    return Answer(400, {"Content-Type": "application/json"}, body, length=len(body))


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_an_echoed_key_reaches_no_output_error_or_file(
    emulator: Emulator,
    hostile: Hostile,
    hostile_settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)

    # The list of batches carries the key too, in a job's error and an extra field.
    def leaky(batches: list[dict[str, Any]]) -> list[dict[str, Any]]:
        batches[0]["error"] = f"upstream said: Bearer {TEST_API_KEY}"
        batches[0]["note"] = {"echo": TEST_API_KEY}
        return batches

    hostile.mangles.append(on_path("GET", "/v1/batches", json_body(leaky)))
    first = emulator.scenario.jobs[0]
    hostile.mangles.append(on_path("GET", f"/v1/files/{first.input_file_id}/content", _echo_key))
    for name, value in {
        "TOGETHER_API_KEY": TEST_API_KEY,
        "TOGETHER_BASE_URL": hostile.base_url,
        "BATCHLEDGER_DB": str(hostile_settings.db_path),
        "BATCHLEDGER_LANDING_DIR": str(hostile_settings.landing_dir),
    }.items():
        monkeypatch.setenv(name, value)
    from batchledger.cli import app

    result = CliRunner().invoke(app, ["ingest", "--no-build"])
    assert result.exit_code != 0
    assert "HTTP 400" in result.stderr and "[REDACTED]" in result.stderr
    assert_key_nowhere(tmp_path, result.stdout, result.stderr, caplog.text)

    hostile.mangles.pop()  # the content heals; the leaky list stays
    run_ingest(hostile_settings, build=False)
    assert counts(hostile_settings.db_path) == expected_counts(emulator.scenario, emulator)
    assert_key_nowhere(tmp_path, caplog.text)


@pytest.mark.timeout(60)
def test_a_file_whose_content_echoes_the_key_is_not_stored(
    emulator: Emulator, hostile: Hostile, hostile_settings: Settings, tmp_path: Path
) -> None:
    job = next(j for j in emulator.scenario.jobs if j.is_terminal_at(emulator.now()))

    def with_key(answer: Answer) -> Answer:
        body = answer.body + f'{{"custom_id": "leak", "note": "{TEST_API_KEY}"}}\n'.encode()
        return Answer(answer.status, answer.headers, body, length=len(body))

    hostile.mangles.append(on_path("GET", f"/v1/files/{job.input_file_id}/content", with_key))
    report = run_ingest(hostile_settings, build=False).report
    assert len(report.unavailable_files) == 1 and "API key" in report.unavailable_files[0]
    expected = expected_counts(emulator.scenario, emulator)
    expected["file_loads"] -= 1
    expected["batch_requests"] -= len(job.items)
    assert counts(hostile_settings.db_path) == expected
    assert_key_nowhere(tmp_path)


NO_PROGRESS: list[str] = []


def _junk(batches: list[dict[str, Any]]) -> list[Any]:
    real = batches
    real[0] = {**real[0], "ID": "forged-id", "Status": "FORGED", "_dlt_id": "x", "created-at": "x"}
    real[1] = {**real[1], "progress": "soon"}
    NO_PROGRESS.append(real[1]["id"])
    real[2] = {**real[2], **{f"extra_{n}": n for n in range(500)}}
    return [
        *real,
        1,
        "a string",
        None,
        [],
        {"status": "COMPLETED"},
        {"id": {"nested": "object"}, "status": "COMPLETED"},
        {"id": "../../evil", "status": "COMPLETED", "input_file_id": "file-x"},
        {"id": 12345, "status": "COMPLETED"},
        {**real[3]},  # the same batch twice
    ]


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_junk_in_the_batch_list_is_skipped_with_one_line_each_and_overwrites_nothing(
    emulator: Emulator,
    hostile: Hostile,
    hostile_settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    hostile.mangles.append(on_path("GET", "/v1/batches", json_body(_junk)))
    truth = {j.batch_id: j.status_at(emulator.now()) for j in emulator.scenario.jobs}
    for _ in range(2):
        run_ingest(hostile_settings, build=False)
        assert counts(hostile_settings.db_path) == expected_counts(emulator.scenario, emulator)
    con = duckdb.connect(str(hostile_settings.db_path), read_only=True)
    rows = dict(con.execute("select id, status from raw_together.batches").fetchall())
    progress = con.execute(
        "select progress from raw_together.batches where id = ?",
        [NO_PROGRESS[-1]],
    ).fetchone()
    columns = con.execute(
        "select count(*) from information_schema.columns "
        "where table_schema = 'raw_together' and table_name = 'batches'"
    ).fetchone()
    con.close()
    assert rows == truth
    assert progress == (None,)
    # known fields, observed_at and record_hash, the bounded extras, dlt's two columns
    assert columns is not None and columns[0] <= 14 + 2 + MAX_EXTRA_KEYS + 2
    skipped = [r.getMessage() for r in caplog.records if r.getMessage().startswith("skipped")]
    assert len(skipped) == 2 * 9  # nine junk entries, two runs
    assert all("\n" not in line for line in skipped)


def test_clean_batches_types_known_fields_and_bounds_keys() -> None:
    known = {"status": "COMPLETED", "created_at": "2026-11-01T00:00:00Z"}
    cleaned = clean_batches(
        [
            {"id": "b-1", "progress": "71.5", "file_size_bytes": "12", "job_deadline": "nope"}
            | known,
            {"id": "b-2", "progress": float("nan"), "error": {"message": "boom"}} | known,
            {"id": "b-3", "Id": "x", "STATUS": "y"} | known,
        ]
    )
    one, two, three = cleaned.records
    assert one["progress"] == 71.5 and one["file_size_bytes"] == 12 and one["job_deadline"] is None
    assert two["progress"] is None and two["error"] == '{"message": "boom"}'
    assert three == {"id": "b-3", **known}
    assert len(cleaned.warnings) == 3


def test_batches_without_a_status_or_creation_time_are_skipped_with_a_warning() -> None:
    """Without them a batch can be neither dated nor told finished: loading it half known
    would fail the build's own not-null checks, so it waits for the API to give them."""
    good = {"id": "b-good", "status": "COMPLETED", "created_at": "2026-11-01T00:00:00Z"}
    cleaned = clean_batches(
        [
            {"id": "b-nostatus", "created_at": "2026-11-01T00:00:00Z"},
            {"id": "b-badstatus", "status": 42, "created_at": "2026-11-01T00:00:00Z"},
            {"id": "b-soon", "status": "COMPLETED", "created_at": "soon"},
            good,
        ]
    )
    assert [record["id"] for record in cleaned.records] == ["b-good"]
    skipped = [w for w in cleaned.warnings if w.startswith("skipped batch")]
    assert skipped == [
        "skipped batch b-nostatus: no usable status; it is read again next run",
        "skipped batch b-badstatus: no usable status; it is read again next run",
        "skipped batch b-soon: no usable created_at; it is read again next run",
    ]
