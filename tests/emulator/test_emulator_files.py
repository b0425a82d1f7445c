"""Served JSONL files agree with the scenario's ground truth, byte for byte where it matters."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import httpx

from batchledger.emulator import Emulator, ScenarioJob
from batchledger.emulator.demo import DEEPSEEK_FLASH
from batchledger.emulator.scenario import AUDIO_ENDPOINTS, ScenarioItem, parse_input_file

REQUEST_ID = re.compile(r"^br_[A-Za-z0-9_-]{43}$")


def _lines(client: httpx.Client, file_id: str) -> list[dict]:
    response = client.get(f"/v1/files/{file_id}/content")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    assert int(response.headers["content-length"]) == len(response.content)
    assert "transfer-encoding" not in response.headers
    return [json.loads(line) for line in response.content.splitlines()]


def _terminal_jobs(emu: Emulator) -> list[ScenarioJob]:
    return [job for job in emu.scenario.jobs if job.completed_at is not None]


def _check_audio_body(job: ScenarioJob, item: ScenarioItem, body: dict) -> None:
    """together-py's shapes: `{text}` for json; `{duration, language, segments, task, text}`
    for verbose_json, the duration written exactly as planned. No usage, model or created."""
    assert item.audio is not None
    if item.audio.response_format == "json":
        assert list(body) == ["text"] and item.audio_duration is None
        return
    assert list(body) == ["duration", "language", "segments", "task", "text"]
    assert str(body["duration"]) == str(item.audio_duration)
    assert body["task"] == "transcribe" and job.endpoint == "/v1/audio/transcriptions"
    assert list(body["segments"][0]) == ["end", "id", "start", "text", "tokens"]


def test_output_lines_match_scenario_items(emu: Emulator, client: httpx.Client) -> None:
    checked = 0
    for job in _terminal_jobs(emu):
        succeeded = {i.custom_id: i for i in job.items if i.outcome == "succeeded"}
        if job.output_file_id is None:
            assert not succeeded
            continue
        lines = _lines(client, job.output_file_id)
        assert sorted(line["custom_id"] for line in lines) == sorted(succeeded)
        for line in lines:
            item = succeeded[line["custom_id"]]
            assert list(line) == ["id", "custom_id", "response"]
            assert REQUEST_ID.match(line["id"])
            assert list(line["response"]) == ["status_code", "body"]
            assert line["response"]["status_code"] == 200
            body = line["response"]["body"]
            assert list(body) == sorted(body)
            if item.audio is not None:
                _check_audio_body(job, item, body)
                checked += 1
                continue
            assert body["object"] == "chat.completion" and body["prompt"] == []
            assert body["model"] == item.model
            assert body["created"] == item.created
            choice = body["choices"][0]
            assert list(choice) == ["finish_reason", "index", "logprobs", "message", "seed"]
            assert choice["finish_reason"] == item.finish_reason
            assert choice["message"]["role"] == "assistant"
            usage = body["usage"]
            assert usage["prompt_tokens"] == item.prompt_tokens
            assert usage["completion_tokens"] == item.completion_tokens
            assert usage["total_tokens"] == item.total_tokens
            if item.cached_tokens is None:
                assert "prompt_tokens_details" not in usage
            else:
                assert usage["prompt_tokens_details"] == {"cached_tokens": item.cached_tokens}
            assert 1 <= item.completion_tokens <= (item.max_tokens or 512)
            checked += 1
        # Together does not keep input order; the emulator writes in completion order.
        numbers = [succeeded[line["custom_id"]].line_number for line in lines]
        assert numbers != sorted(numbers)
        # Audio responses carry no `created`; a chat job's lines are in completion order.
        created = [line["response"]["body"].get("created") for line in lines]
        if job.endpoint not in AUDIO_ENDPOINTS:
            assert created == sorted(created)
    assert checked > 300


def test_error_files_use_the_documented_shape(emu: Emulator, client: httpx.Client) -> None:
    codes = set()
    for job in _terminal_jobs(emu):
        failed = {i.custom_id: i for i in job.items if i.outcome == "failed"}
        assert (job.error_file_id is not None) == bool(failed)
        if job.error_file_id is None:
            continue
        lines = _lines(client, job.error_file_id)
        assert sorted(line["custom_id"] for line in lines) == sorted(failed)
        for line in lines:
            assert list(line) == ["id", "custom_id", "error"]
            item = failed[line["custom_id"]]
            assert line["error"] == {"message": item.error_message, "code": item.error_code}
            codes.add(item.error_code)
    assert codes == {"timeout", "invalid_request", "context_length_exceeded", "invalid_audio"}


def test_unprocessed_items_are_in_no_file(emu: Emulator, client: httpx.Client) -> None:
    for job in _terminal_jobs(emu):
        served = set()
        for file_id in (job.output_file_id, job.error_file_id):
            if file_id is not None:
                served |= {line["custom_id"] for line in _lines(client, file_id)}
        unprocessed = {i.custom_id for i in job.items if i.outcome == "not_processed"}
        assert not served & unprocessed
        assert served | unprocessed == {i.custom_id for i in job.items}


def test_input_files_round_trip_to_the_items(emu: Emulator, client: httpx.Client) -> None:
    for job in emu.scenario.jobs:
        content = client.get(f"/v1/files/{job.input_file_id}/content").content
        lines, _ = parse_input_file(content)
        assert [line.custom_id for line in lines] == [i.custom_id for i in job.items]
        for line, item in zip(lines, job.items, strict=True):
            assert line.metadata == item.metadata and line.model == item.model
            assert line.max_tokens == item.max_tokens and line.line_number == item.line_number
            if item.prompt_tokens is not None:
                assert line.prompt_tokens == item.prompt_tokens
            assert line.audio == item.audio
        first = json.loads(content.splitlines()[0])
        if job.endpoint in AUDIO_ENDPOINTS:
            # Together's audio lines: method FILE, the audio's URL in body.file.
            assert list(first) == ["custom_id", "method", "body", "metadata"]
            assert first["method"] == "FILE" and first["body"]["file"].startswith("https://")
            continue
        assert set(first) <= {"custom_id", "body", "metadata"}
        assert first["body"]["messages"][0]["role"] == "user"


def test_cached_tokens_only_for_the_flagged_model(emu: Emulator) -> None:
    items = [i for job in emu.scenario.jobs for i in job.items if i.outcome == "succeeded"]
    deepseek = [i for i in items if i.model == DEEPSEEK_FLASH]
    assert all(i.cached_tokens is None for i in items if i.model != DEEPSEEK_FLASH)
    cached = [i for i in deepseek if i.cached_tokens]
    assert 0.3 < len(cached) / len(deepseek) < 0.7
    assert all(0 < (i.cached_tokens or 0) < (i.prompt_tokens or 0) for i in cached)


def test_month_boundary_job_spans_october_and_november(emu: Emulator) -> None:
    job = next(j for j in emu.scenario.jobs if j.created_at.strftime("%m-%d") == "10-31")
    months = {datetime.fromtimestamp(i.created or 0, UTC).month for i in job.items}
    assert months == {10, 11}


def test_range_requests_resume_a_download(emu: Emulator, client: httpx.Client) -> None:
    file_id = emu.scenario.jobs[0].output_file_id
    full = client.get(f"/v1/files/{file_id}/content").content
    total = len(full)
    probe = client.get(f"/v1/files/{file_id}/content", headers={"Range": "bytes=0-1"})
    assert probe.status_code == 206
    assert probe.headers["content-range"] == f"bytes 0-1/{total}"
    assert probe.content == full[:2]
    tail = client.get(f"/v1/files/{file_id}/content", headers={"Range": "bytes=100-"})
    assert tail.status_code == 206 and tail.content == full[100:]
    assert tail.headers["content-range"] == f"bytes 100-{total - 1}/{total}"
    assert int(tail.headers["content-length"]) == total - 100
    suffix = client.get(f"/v1/files/{file_id}/content", headers={"Range": "bytes=-10"})
    assert suffix.content == full[-10:]
    beyond = client.get(f"/v1/files/{file_id}/content", headers={"Range": f"bytes={total}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{total}"
    assert emu.content_downloads() == 4
