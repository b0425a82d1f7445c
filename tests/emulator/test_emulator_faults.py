"""Fault switches (rate limits, 500s, slowness, dropped downloads, malformed lines) and the
out-of-process control endpoints."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from batchledger.emulator import Emulator
from batchledger.emulator.render import MALFORMED_LINE


def _output_id(emu: Emulator) -> str:
    file_id = emu.scenario.jobs[0].output_file_id
    assert file_id is not None
    return file_id


def test_rate_limit_burst_then_recovery(emu: Emulator, client: httpx.Client) -> None:
    emu.faults.rate_limit_burst = 2
    emu.faults.retry_after_seconds = 3
    for _ in range(2):
        limited = client.get("/v1/batches")
        assert limited.status_code == 429
        assert limited.headers["retry-after"] == "3"
        assert isinstance(limited.json()["error"], str)
    assert client.get("/v1/batches").status_code == 200
    assert emu.faults.rate_limit_burst == 0


def test_server_errors_use_the_files_envelope_on_files_paths(
    emu: Emulator, client: httpx.Client
) -> None:
    emu.faults.server_errors = 1
    failed = client.get("/v1/files")
    assert failed.status_code == 500
    assert set(failed.json()["error"]) == {"message", "type", "param", "code"}
    assert client.get("/v1/files").status_code == 200


def test_only_paths_limits_where_faults_apply(emu: Emulator, client: httpx.Client) -> None:
    emu.faults.only_paths = "/content"
    emu.faults.rate_limit_burst = 1
    assert client.get("/v1/batches").status_code == 200
    assert client.get(f"/v1/files/{_output_id(emu)}/content").status_code == 429
    assert client.get(f"/v1/files/{_output_id(emu)}/content").status_code == 200


def test_slow_responses(emu: Emulator, client: httpx.Client) -> None:
    emu.faults.slow_seconds = 0.3
    started = time.monotonic()
    assert client.get("/v1/batches").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_reset_download_breaks_the_read_and_range_resumes(
    emu: Emulator, client: httpx.Client
) -> None:
    url = f"/v1/files/{_output_id(emu)}/content"
    full = client.get(url).content
    emu.faults.reset_downloads = 1
    emu.faults.reset_after_bytes = 512
    received = b""
    with pytest.raises(httpx.RemoteProtocolError), client.stream("GET", url) as response:
        assert int(response.headers["content-length"]) == len(full)
        for chunk in response.iter_bytes():
            received += chunk
    assert received == full[:512]
    rest = client.get(url, headers={"Range": f"bytes={len(received)}-"})
    assert rest.status_code == 206 and received + rest.content == full
    assert emu.content_downloads() == 3  # the dropped one answered 200 too
    dropped = [r for r in emu.request_log if r.path == url][1]
    assert (dropped.status, dropped.bytes_sent) == (200, 512)


def test_malformed_line_goes_into_result_files_generated_afterwards(
    emu: Emulator, client: httpx.Client
) -> None:
    before = client.get(f"/v1/files/{_output_id(emu)}/content").content
    emu.faults.malformed_output_line = True
    assert client.get(f"/v1/files/{_output_id(emu)}/content").content == before
    job = next(j for j in emu.scenario.jobs if j.completed_at is None)
    assert job.output_file_id is not None
    emu.advance(3 * 3600)
    lines = client.get(f"/v1/files/{job.output_file_id}/content").content.splitlines()
    assert emu.malformed_lines == [(job.output_file_id, 3)]
    assert lines[2] == MALFORMED_LINE
    with pytest.raises(ValueError):
        json.loads(lines[2])
    assert len(lines) == job.outcome_counts()["succeeded"] + 1
    assert client.get(f"/v1/files/{job.output_file_id}").json()["LineCount"] == len(lines)


def test_control_endpoints(emu: Emulator, client: httpx.Client) -> None:
    before = emu.now()
    advanced = client.post("/_emulator/advance", json={"seconds": 90})
    assert advanced.status_code == 200
    assert (emu.now() - before).total_seconds() == 90
    assert client.post("/_emulator/faults", json={"server_errors": 1}).status_code == 200
    assert client.get("/v1/batches").status_code == 500
    assert client.post("/_emulator/faults", json={"nope": 1}).status_code == 400
    assert client.post("/_emulator/faults", json={"server_errors": -1}).status_code == 400
    client.get(f"/v1/files/{_output_id(emu)}/content")
    stats = client.get("/_emulator/stats").json()
    # Control calls are not client traffic and stay out of the log.
    assert stats == {"content_downloads": 1, "requests": 2}
    emu.reset_log()
    assert client.get("/_emulator/stats").json() == {"content_downloads": 0, "requests": 0}
