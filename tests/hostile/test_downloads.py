"""Classes 2 and 5: content cut short, gzip, trickled bytes, huge Retry-After, slow answers."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from batchledger.emulator import Emulator, ScenarioJob
from batchledger.ingest import run_ingest
from batchledger.settings import Settings
from batchledger.together import RetryPolicy, TogetherClient, TogetherError
from batchledger.together.errors import TogetherFileUnavailableError
from batchledger.together.limits import ClientLimits
from tests.conftest import TEST_API_KEY
from tests.hostile.conftest import error_chain, lines_of, snapshot_outside_data
from tests.hostile.server import (
    Answer,
    Hostile,
    content_of,
    gzipped,
    json_body,
    on_path,
    trickled,
    truncated,
)
from tests.ingest.test_ingest import counts, expected_counts


def finished_job(emulator: Emulator) -> ScenarioJob:
    return next(
        j
        for j in emulator.scenario.jobs
        if j.is_terminal_at(emulator.now())
        and j.output_file_id
        and lines_of(emulator, j.output_file_id) >= 2
    )


def ingest(settings: Settings) -> list[str]:
    return run_ingest(settings, build=False).report.unavailable_files


def expected_without(emulator: Emulator, file_id: str) -> dict[str, int]:
    """The scenario's counts with one result file not loaded (its metadata still is)."""
    expected = expected_counts(emulator.scenario, emulator)
    expected["file_loads"] -= 1
    expected["batch_results"] -= lines_of(emulator, file_id)
    return expected


@pytest.mark.slow
@pytest.mark.parametrize("lying_length", [False, True], ids=["no-length", "short-length"])
@pytest.mark.timeout(60)
def test_a_cut_file_is_never_loaded_as_complete_and_the_next_run_repairs_it(
    emulator: Emulator,
    hostile: Hostile,
    hostile_settings: Settings,
    lying_length: bool,
    tmp_path: Path,
) -> None:
    job = finished_job(emulator)
    output = job.output_file_id or ""
    hostile.mangles.append(content_of(output, truncated(lying_length)))
    before = snapshot_outside_data(tmp_path)

    unavailable = ingest(hostile_settings)
    assert counts(hostile_settings.db_path) == expected_without(emulator, output)
    assert len(unavailable) == 1 and output in unavailable[0]
    assert hostile.content_requests(output) > 1, "a short file is retried before giving up"

    hostile.mangles.clear()  # the server heals
    assert ingest(hostile_settings) == []
    assert counts(hostile_settings.db_path) == expected_counts(emulator.scenario, emulator)
    assert snapshot_outside_data(tmp_path) == before


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_gzip_content_and_lists_are_decoded(
    emulator: Emulator, hostile: Hostile, hostile_settings: Settings
) -> None:
    for job in emulator.scenario.jobs:
        for file_id in (job.input_file_id, job.output_file_id, job.error_file_id):
            if file_id:
                hostile.mangles.append(content_of(file_id, gzipped))
    hostile.mangles.append(on_path("GET", "/v1/batches", gzipped))
    assert ingest(hostile_settings) == []
    assert counts(hostile_settings.db_path) == expected_counts(emulator.scenario, emulator)
    assert ingest(hostile_settings) == []
    assert counts(hostile_settings.db_path) == expected_counts(emulator.scenario, emulator)


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_a_trickled_file_stops_at_the_transfer_limit_and_the_rest_loads(
    emulator: Emulator, hostile: Hostile, hostile_settings: Settings
) -> None:
    job = finished_job(emulator)
    output = job.output_file_id or ""
    hostile.mangles.append(content_of(output, trickled(0.05)))  # minutes for the whole file
    unavailable = ingest(hostile_settings)
    assert counts(hostile_settings.db_path) == expected_without(emulator, output)
    assert len(unavailable) == 1 and "BATCHLEDGER_TRANSFER_TIMEOUT_SECONDS" in unavailable[0]
    hostile.mangles.clear()
    assert ingest(hostile_settings) == []
    assert counts(hostile_settings.db_path) == expected_counts(emulator.scenario, emulator)


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_a_trickled_batch_list_fails_the_run_clearly_and_publishes_nothing(
    emulator: Emulator, hostile: Hostile, hostile_settings: Settings
) -> None:
    hostile.mangles.append(on_path("GET", "/v1/batches", trickled(0.05)))
    with pytest.raises(Exception) as caught:
        ingest(hostile_settings)
    assert "BATCHLEDGER_REQUEST_TIMEOUT_SECONDS" in error_chain(caught.value)
    assert not hostile_settings.db_path.exists()
    hostile.mangles.clear()
    ingest(hostile_settings)
    assert counts(hostile_settings.db_path) == expected_counts(emulator.scenario, emulator)


def _rate_limited(answer: Answer) -> Answer:
    body = b'{"error": "slow down"}'
    return Answer(
        429, {"Retry-After": "99999", "Content-Type": "application/json"}, body, length=len(body)
    )


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_a_huge_retry_after_is_capped_in_a_run(
    emulator: Emulator, hostile: Hostile, hostile_settings: Settings
) -> None:
    hostile.mangles.append(on_path("GET", "/v1/batches", _rate_limited, times=2))
    assert ingest(hostile_settings) == []
    assert counts(hostile_settings.db_path) == expected_counts(emulator.scenario, emulator)


def test_the_default_policy_caps_retry_after_and_total_waiting(hostile: Hostile) -> None:
    """Production defaults, with a recorded (not real) sleep: Retry-After 99999 forever."""
    hostile.mangles.append(on_path("GET", "/v1/batches", _rate_limited))
    sleeps: list[float] = []
    policy = RetryPolicy()
    with TogetherClient(
        TEST_API_KEY, hostile.base_url, retry=policy, sleep=sleeps.append, limits=ClientLimits()
    ) as client:
        with pytest.raises(TogetherError, match="HTTP 429"):
            client.list_batches()
    assert sleeps and max(sleeps) <= policy.max_retry_after == 60.0
    assert sum(sleeps) <= policy.max_total_wait == 180.0


def test_a_file_shorter_than_its_metadata_is_refused(
    emulator: Emulator, hostile: Hostile, tmp_path: Path
) -> None:
    """Even with a matching Content-Length, fewer bytes or lines than listed is not a file."""
    job = finished_job(emulator)
    output = job.output_file_id or ""
    fast = RetryPolicy(base_delay=0.0)
    with TogetherClient(TEST_API_KEY, hostile.base_url, retry=fast) as client:
        whole = client.download_file(output, tmp_path / "whole.jsonl")
        lines = whole.path.read_bytes().count(b"\n")
        for expected_bytes, expected_lines in ((whole.bytes + 1, None), (None, lines + 1)):
            with pytest.raises(TogetherFileUnavailableError, match="metadata"):
                client.download_file(
                    output,
                    tmp_path / "short.jsonl",
                    expected_bytes=expected_bytes,
                    expected_lines=expected_lines,
                )
            assert not (tmp_path / "short.jsonl").exists()
            assert not (tmp_path / "short.jsonl.part").exists()
        exact = client.download_file(
            output, tmp_path / "exact.jsonl", expected_bytes=whole.bytes, expected_lines=lines
        )
    assert exact.sha256 == whole.sha256


def test_the_client_is_built_with_a_deadline_on_every_transport() -> None:
    """The deadline hook wraps httpx's private pool; a new httpx that moves it must fail here."""
    from batchledger.together.deadline import _Backend, http_client

    with http_client(proxy="http://127.0.0.1:9") as client:
        transports = [client._transport, *client._mounts.values()]
        assert all(
            isinstance(t, httpx.HTTPTransport) and isinstance(t._pool._network_backend, _Backend)
            for t in transports
            if t is not None
        )


def test_json_answers_over_the_size_limit_are_refused(
    hostile: Hostile, monkeypatch: pytest.MonkeyPatch
) -> None:
    from batchledger.together import limits as limits_module

    monkeypatch.setattr(limits_module, "DEFAULT_LIMITS", ClientLimits(max_json_bytes=64 << 10))

    def padded(batches: list[dict[str, object]]) -> list[dict[str, object]]:
        return [{**batches[0], "pad": "x" * (100 << 10)}, *batches[1:]]

    def no_length(answer: Answer) -> Answer:
        answer = json_body(padded)(answer)
        answer.length = None  # so only counting what arrives can catch it
        return answer

    hostile.mangles.append(on_path("GET", "/v1/batches", no_length))
    with TogetherClient(TEST_API_KEY, hostile.base_url) as client:
        with pytest.raises(
            TogetherError, match=r"larger than 0\.0625 MB.*BATCHLEDGER_MAX_RESPONSE_MB"
        ):
            client.list_batches()
