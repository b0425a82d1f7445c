"""status, cancel and retry against the emulator."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from batchledger.emulator import Emulator
from batchledger.ops.errors import OpsUsageError
from batchledger.ops.followup import followup_endpoint
from batchledger.settings import Settings
from batchledger.store import read_submissions
from tests.conftest import make_settings
from tests.ops.conftest import LLAMA, point_env_at, request, write_jsonl


def demo_job(emulator: Emulator, status: str) -> str:
    return next(j.batch_id for j in emulator.jobs() if j.status_at(emulator.now()) == status)


def test_status_lists_every_job_as_json_and_table(
    cli: Any, ops_settings: Settings, emulator: Emulator
) -> None:
    result = cli("status", "--json")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert {r["batch_id"] for r in rows} == {j.batch_id for j in emulator.jobs()}
    running = next(r for r in rows if r["status"] == "IN_PROGRESS")
    assert 0 < running["progress"] < 100
    table = cli("status", running["batch_id"])
    assert table.exit_code == 0
    assert running["batch_id"][:8] in table.stdout and "IN_PROGRESS" in table.stdout


def test_status_watch_refreshes_until_the_job_ends(
    cli: Any, fast_emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    point_env_at(monkeypatch, make_settings(tmp_path, fast_emulator.base_url or ""))
    path = write_jsonl(tmp_path / "ok.jsonl", [request("a")])
    batch_id = json.loads(cli("submit", str(path), "--yes", "--json").stdout)["batch_id"]
    result = cli("status", batch_id, "--watch", "--interval", "0.1")
    assert result.exit_code == 0, result.stderr
    assert "COMPLETED" in result.stdout


def test_cancel_reports_status_and_progress(
    cli: Any, ops_settings: Settings, emulator: Emulator
) -> None:
    batch_id = demo_job(emulator, "IN_PROGRESS")
    result = cli("cancel", batch_id, "--json")
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["status"] in ("CANCELING", "CANCELLED")
    assert 0 < payload["progress"] < 100
    again = cli("cancel", demo_job(emulator, "COMPLETED"))
    assert again.exit_code == 1 and "already COMPLETED" in again.stderr


def test_retry_writes_exactly_the_failed_and_unprocessed_items(
    cli: Any, ops_settings: Settings, emulator: Emulator, tmp_path: Path
) -> None:
    batch_id = demo_job(emulator, "CANCELLED")
    truth = emulator.job(batch_id).items
    expected_failed = {i.custom_id for i in truth if i.outcome == "failed"}
    expected_all = expected_failed | {i.custom_id for i in truth if i.outcome == "not_processed"}
    assert expected_failed and expected_all != expected_failed

    out = tmp_path / "retry.jsonl"
    result = cli("retry", batch_id, "--include-not-processed", "--output", str(out), "--json")
    assert result.exit_code == 0, result.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert {line["custom_id"] for line in lines} == expected_all
    assert all(line["body"]["messages"] for line in lines)

    only_failed = cli("retry", batch_id, "-o", str(out), "--truncate-chars", "5")
    assert only_failed.exit_code == 0, only_failed.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert {line["custom_id"] for line in lines} == expected_failed
    assert all(len(m["content"]) <= 5 for line in lines for m in line["body"]["messages"])


def test_retry_submit_records_lineage_and_inherits_tags(
    cli: Any, fast_emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = point_env_at(monkeypatch, make_settings(tmp_path, fast_emulator.base_url or ""))
    path = write_jsonl(
        tmp_path / "in.jsonl",
        [request("good-1"), request("bad-1", model="invalid/model"), request("good-2")],
    )
    parent = json.loads(cli("submit", str(path), "--yes", "--json", "--tag", "team=s").stdout)
    parent_id = parent["batch_id"]
    while cli("status", parent_id, "--json").stdout.count('"COMPLETED"') == 0:
        time.sleep(0.05)
    out = tmp_path / "retry.jsonl"
    result = cli("retry", parent_id, "-o", str(out), "--submit", "--yes", "--json")
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["failed"] == 1 and payload["selected"] == 1
    assert [json.loads(line)["custom_id"] for line in out.read_text().splitlines()] == ["bad-1"]
    child = {s.batch_id: s for s in read_submissions(settings)}[payload["submitted_batch_id"]]
    assert (child.parent_batch_id, child.tags) == (parent_id, {"team": "s"})
    assert fast_emulator.job(child.batch_id).model_id in (LLAMA, "invalid/model", None)


def test_retry_submit_keeps_an_audio_jobs_endpoint(
    cli: Any, fast_emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    point_env_at(monkeypatch, make_settings(tmp_path, fast_emulator.base_url or ""))
    translations = "/v1/audio/translations"

    def audio(custom_id: str, model: str) -> dict[str, Any]:
        body = {"file": f"https://calls.example.com/{custom_id}.wav", "model": model}
        return {"custom_id": custom_id, "method": "FILE", "body": body}

    path = write_jsonl(
        tmp_path / "calls.jsonl",
        [audio("ok-1", "openai/whisper-large-v3"), audio("bad-1", "invalid/model")],
    )
    submitted = cli("submit", str(path), "--endpoint", translations, "--yes", "--json")
    assert submitted.exit_code == 0, submitted.output + submitted.stderr
    parent_id = json.loads(submitted.stdout)["batch_id"]
    while cli("status", parent_id, "--json").stdout.count('"COMPLETED"') == 0:
        time.sleep(0.05)
    out = tmp_path / "retry.jsonl"
    result = cli("retry", parent_id, "-o", str(out), "--submit", "--yes", "--json")
    assert result.exit_code == 0, result.output + result.stderr
    child = fast_emulator.job(json.loads(result.stdout)["submitted_batch_id"])
    assert [item.custom_id for item in child.items] == ["bad-1"]
    assert child.endpoint == translations


def test_a_follow_up_goes_to_its_parents_endpoint_or_is_refused() -> None:
    assert followup_endpoint({"id": "b", "endpoint": "/v1/audio/transcriptions"}) == (
        "/v1/audio/transcriptions"
    )
    # No endpoint in the batch object: submit decides from the lines.
    assert followup_endpoint({"id": "b"}) is None
    with pytest.raises(OpsUsageError, match="'/v1/embeddings', which batchledger cannot submit"):
        followup_endpoint({"id": "b", "endpoint": "/v1/embeddings"})


def test_retry_refuses_a_running_job(cli: Any, ops_settings: Settings, emulator: Emulator) -> None:
    result = cli("retry", demo_job(emulator, "IN_PROGRESS"))
    assert result.exit_code == 2 and "retry once it has ended" in result.stderr


@pytest.mark.parametrize("command", ["status", "cancel", "retry"])
@pytest.mark.parametrize(
    ("setup", "code", "words"),
    [
        ("bad_id", 4, "(HTTP 404)"),
        ("wrong_key", 3, "check TOGETHER_API_KEY"),
        ("unreachable", 5, "Could not reach Together"),
    ],
)
def test_bad_input_is_one_line_and_non_zero(
    cli: Any,
    ops_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    setup: str,
    code: int,
    words: str,
) -> None:
    if setup == "wrong_key":
        monkeypatch.setenv("TOGETHER_API_KEY", "wrong")
    elif setup == "unreachable":
        monkeypatch.setenv("TOGETHER_BASE_URL", "http://127.0.0.1:9")
    result = cli(command, "no-such-batch")
    assert result.exit_code == code, result.output + result.stderr
    assert words in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_every_command_has_help_with_examples(cli: Any) -> None:
    for command in ("submit", "status", "cancel", "retry", "watch"):
        result = cli(command, "--help")
        assert result.exit_code == 0 and "Examples" in result.stdout


def test_status_from_the_warehouse_finds_short_ids_says_not_found_and_flags_unpriced(
    demo_db: Path, emulator: Emulator, tmp_path: Path
) -> None:
    """On the warehouse `make ingest` published from the demo scenario, which the emulator
    serves too (status only reads the warehouse)."""
    from batchledger.ops.api import format_usd
    from tests.cli.test_cli_ingest import run_cli
    from tests.conftest import TEST_API_KEY

    db = demo_db
    keyed = {
        "TOGETHER_API_KEY": TEST_API_KEY,
        "TOGETHER_BASE_URL": emulator.base_url or "",
        "BATCHLEDGER_DB": str(db),
    }
    keyless = {"TOGETHER_API_KEY": "", "BATCHLEDGER_DB": str(db), "COLUMNS": "80"}

    listed = run_cli("status", "--json", env=keyless, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert all("unpriced_items" in row for row in rows)
    unpriced = [row for row in rows if row["unpriced_items"]]
    assert unpriced, "the demo scenario has a job on a model with no price"

    # The table at 80 columns: every id as printed, every figure whole, unpriced flagged.
    table = run_cli("status", env=keyless, cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    for row in rows:
        assert row["batch_id"][:8] in table.stdout
        assert f"{row['total_tokens']:,}" in table.stdout
    for row in rows:
        if row["cost_usd"] is None:
            continue
        line = next(line for line in table.stdout.splitlines() if row["batch_id"][:8] in line)
        shown = format_usd(Decimal(row["cost_usd"]))
        assert shown in line
        assert (shown + "*" in line) == bool(row["unpriced_items"])
        assert ("~" + shown in line) == (not row["is_cost_final"])
    assert any(not row["is_cost_final"] for row in rows)  # the demo's running job
    assert "~ still running" in table.stdout
    assert "unpriced" in table.stdout

    # An id as the table prints it (8 characters) is accepted, with and without a key.
    job = unpriced[0]
    for env in (keyless, keyed):
        one = run_cli("status", job["batch_id"][:8], "--json", env=env, cwd=tmp_path)
        assert one.returncode == 0, one.stderr
        assert [r["batch_id"] for r in json.loads(one.stdout)] == [job["batch_id"]]
        assert json.loads(one.stdout)[0]["unpriced_items"] == job["unpriced_items"]

    missing = run_cli("status", "no-such-batch", env=keyless, cwd=tmp_path)
    assert missing.returncode == 4
    assert "not found" in missing.stderr and "No API key" not in missing.stderr


def test_status_without_a_key_names_the_warehouse_it_could_not_read(tmp_path: Path) -> None:
    """No key and a BATCHLEDGER_DB that is not there: exit 3, naming the path looked at."""
    from tests.cli.test_cli_ingest import run_cli

    db = tmp_path / "elsewhere" / "finance.duckdb"
    run = run_cli(
        "status",
        env={"TOGETHER_API_KEY": "", "BATCHLEDGER_DB": str(db), "COLUMNS": "300"},
        cwd=tmp_path,
    )
    assert run.returncode == 3
    assert f"no warehouse at {db}" in " ".join(run.stderr.split())
    assert not db.exists()


def test_status_shows_a_dedicated_job_as_such_and_an_audio_jobs_seconds(
    demo_db: Path, tmp_path: Path
) -> None:
    """The demo has a job on its dedicated endpoint and audio jobs (whisper), from the
    warehouse `make ingest` published."""
    from tests.cli.test_cli_ingest import run_cli

    keyless = {"TOGETHER_API_KEY": "", "BATCHLEDGER_DB": str(demo_db), "COLUMNS": "200"}
    listed = run_cli("status", "--json", env=keyless, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    with duckdb.connect(str(demo_db), read_only=True) as con:
        dedicated = {
            batch_id
            for (batch_id,) in con.execute(
                "select distinct batch_id from marts.fct_batch_items"
                " where dedicated_endpoint is not null"
            ).fetchall()
        }
        audio = dict(
            con.execute(
                "select batch_id, audio_seconds from marts.cost_by_job where audio_seconds > 0"
            ).fetchall()
        )
    assert dedicated and audio
    kinds = {row["batch_id"]: row["pricing_kind"] for row in rows}
    assert {b for b, kind in kinds.items() if kind == "dedicated"} == dedicated
    assert {b for b, kind in kinds.items() if kind == "audio"} == set(audio) - dedicated
    for row in rows:
        seconds = audio.get(row["batch_id"])
        assert row["audio_seconds"] == (f"{seconds:f}" if seconds else None)
    table = run_cli("status", env=keyless, cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    for batch_id in dedicated:
        line = next(line for line in table.stdout.splitlines() if batch_id[:8] in line)
        assert "(dedicated)" in line
    for batch_id, seconds in audio.items():
        line = next(line for line in table.stdout.splitlines() if batch_id[:8] in line)
        assert f"{seconds:,.0f} s " in line
    assert "s: seconds of audio" in table.stdout
