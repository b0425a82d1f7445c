"""The Together client against the emulator: shapes, retries, clear errors."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from batchledger.emulator import Emulator, Scenario
from batchledger.together import (
    RetryPolicy,
    TogetherAuthError,
    TogetherClient,
    TogetherError,
    TogetherNotFoundError,
    TogetherUnreachableError,
)
from batchledger.together.client import normalize_base_url
from batchledger.together.retry import parse_retry_after
from tests.conftest import TEST_API_KEY


@pytest.fixture
def client(emulator: Emulator) -> TogetherClient:
    sleeps: list[float] = []
    client = TogetherClient(
        TEST_API_KEY, emulator.base_url, retry=RetryPolicy(base_delay=0.01), sleep=sleeps.append
    )
    client.sleeps = sleeps  # type: ignore[attr-defined]
    return client


@pytest.mark.parametrize(
    ("given", "root"),
    [
        ("https://api.together.ai", "https://api.together.ai"),
        ("https://api.together.ai/", "https://api.together.ai"),
        ("https://api.together.xyz/v1", "https://api.together.xyz"),
        ("http://127.0.0.1:9/v1/", "http://127.0.0.1:9"),
    ],
)
def test_base_url_is_the_host_root_and_tolerates_v1(given: str, root: str) -> None:
    assert normalize_base_url(given) == root


def test_base_url_without_scheme_is_rejected() -> None:
    with pytest.raises(TogetherError, match="TOGETHER_BASE_URL"):
        normalize_base_url("api.together.ai")


def test_lists_every_batch(client: TogetherClient, emulator: Emulator) -> None:
    batches = client.list_batches()
    assert {b["id"] for b in batches} == {j.batch_id for j in emulator.scenario.jobs}


def test_lists_the_dedicated_endpoints(client: TogetherClient, emulator: Emulator) -> None:
    endpoints = client.list_endpoints("dedicated")
    assert {e["name"] for e in endpoints} == {
        e.name for e in emulator.scenario.endpoints if e.type == "dedicated"
    }
    assert all(e["id"].startswith("endpoint-") and e["type"] == "dedicated" for e in endpoints)
    assert len(client.list_endpoints()) == len(emulator.scenario.endpoints)
    with pytest.raises(ValueError, match="dedicated or serverless"):
        client.list_endpoints("gpu")


def test_a_null_batch_list_is_an_empty_list() -> None:
    with Emulator(scenario=Scenario(now=_now()), api_key=TEST_API_KEY, time_scale=0) as emu:
        with TogetherClient(TEST_API_KEY, emu.base_url + "/v1") as client:
            assert client.list_batches() == []


def test_wrong_key_says_check_the_key_and_never_echoes_it(emulator: Emulator) -> None:
    wrong = "tgk-wrong-key-0000"
    with TogetherClient(wrong, emulator.base_url) as client:
        with pytest.raises(TogetherAuthError) as caught:
            client.list_batches()
    assert "check TOGETHER_API_KEY" in str(caught.value)
    assert wrong not in str(caught.value)


def test_missing_file_names_batch_and_file(client: TogetherClient, tmp_path: Path) -> None:
    with pytest.raises(TogetherNotFoundError) as caught:
        client.download_file("file-nope", tmp_path / "x.jsonl", batch_id="batch-42")
    assert "file-nope" in str(caught.value) and "batch-42" in str(caught.value)
    assert not (tmp_path / "x.jsonl").exists()
    assert not (tmp_path / "x.jsonl.part").exists()


def test_retry_after_is_honoured(client: TogetherClient, emulator: Emulator) -> None:
    emulator.faults.retry_after_seconds = 7
    emulator.faults.rate_limit_burst = 2
    assert client.list_batches()
    assert client.sleeps == [7.0, 7.0]  # type: ignore[attr-defined]


def test_attempts_are_bounded(emulator: Emulator) -> None:
    emulator.faults.server_errors = 100
    with TogetherClient(
        TEST_API_KEY, emulator.base_url, retry=RetryPolicy(max_attempts=3), sleep=lambda _: None
    ) as client:
        with pytest.raises(TogetherError, match="HTTP 500"):
            client.list_batches()
    assert [r.status for r in emulator.request_log].count(500) == 3


def test_unreachable_api_is_a_clear_error() -> None:
    with TogetherClient(
        TEST_API_KEY, "http://127.0.0.1:9", retry=RetryPolicy(max_attempts=2), sleep=lambda _: None
    ) as client:
        with pytest.raises(TogetherUnreachableError, match="Could not reach Together"):
            client.list_batches()


def test_download_resumes_after_a_reset_and_matches_the_served_bytes(
    client: TogetherClient, emulator: Emulator, tmp_path: Path
) -> None:
    job = next(j for j in emulator.scenario.jobs if j.output_file_id)
    whole = client.download_file(job.output_file_id, tmp_path / "a.jsonl")
    emulator.faults.reset_downloads = 2
    resumed = client.download_file(job.output_file_id, tmp_path / "b.jsonl")
    assert resumed.sha256 == whole.sha256
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert resumed.bytes == whole.bytes > 512


def test_upload_create_and_cancel(client: TogetherClient, tmp_path: Path) -> None:
    path = tmp_path / "requests.jsonl"
    path.write_text(
        '{"custom_id": "r1", "body": {"model": "meta-llama/Llama-3.3-70B-Instruct-Turbo", '
        '"messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}}\n'
    )
    uploaded = client.upload_file(path)
    assert uploaded["id"] and uploaded["purpose"] == "batch-api"
    # The same bytes again: the server names the existing file.
    assert client.upload_file(path)["id"] == uploaded["id"]
    job, warning = client.create_batch(uploaded["id"])
    assert job["status"] == "VALIDATING" and warning is None
    assert client.get_batch(job["id"])["input_file_id"] == uploaded["id"]
    cancelled = client.cancel_batch(job["id"])
    assert cancelled["status"] in {"CANCELING", "CANCELLED"}


def test_retry_after_parsing() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def _now() -> datetime:
    return datetime(2026, 11, 20, 12, tzinfo=UTC)


BATCH = {"id": "batch-1", "status": "COMPLETED", "created_at": "2026-11-01T00:00:00Z"}
FILE = {"id": "file-1", "filename": "in.jsonl"}
ENDPOINT = {"id": "endpoint-1", "name": "acme/x-1", "type": "dedicated"}


@pytest.mark.parametrize(
    ("method", "path", "what", "record", "enveloped"),
    [
        ("list_batches", "/v1/batches", "batch", BATCH, False),
        ("list_files", "/v1/files", "file", FILE, True),
        ("list_endpoints", "/v1/endpoints", "endpoint", ENDPOINT, True),
    ],
)
def test_lists_read_one_shape_each_and_skip_unusable_entries(
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    path: str,
    what: str,
    record: dict[str, str],
    enveloped: bool,
) -> None:
    """Every list: entries in a {"data": [...]} envelope (files, endpoints) or a bare array;
    null is empty; an entry without an id is skipped with a warning; any other answer is one
    error naming the request and what it expected."""
    with TogetherClient(TEST_API_KEY, "http://127.0.0.1:9") as client:
        answers: list[object] = []
        monkeypatch.setattr(client, "_json", lambda *_, **__: answers.pop(0))
        listed = getattr(client, method)
        answers.append(None)
        assert listed() == []
        answers.append([record, {"no": "id"}])
        assert [entry["id"] for entry in listed()] == [record["id"]]
        assert len(client.warnings) == 1
        envelope = {"object": "list", "data": [record]}
        answers.append(envelope)
        if enveloped:
            assert [entry["id"] for entry in listed()] == [record["id"]]
            answers.append({"object": "list"})
            assert listed() == []
        else:
            with pytest.raises(
                TogetherError, match=f"GET {path}: expected a list of {what} objects, got dict"
            ):
                listed()
        answers.append("nonsense")
        with pytest.raises(
            TogetherError, match=f"GET {path}: expected a list of {what} objects, got str"
        ):
            listed()
