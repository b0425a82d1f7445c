"""Wire shapes of the batch and file endpoints (contract §2, §3, §9)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import httpx

from batchledger.emulator import Emulator

BATCH_KEYS = {
    "id",
    "user_id",
    "input_file_id",
    "file_size_bytes",
    "status",
    "job_deadline",
    "created_at",
    "endpoint",
    "progress",
    "model_id",
    "output_file_id",
    "error_file_id",
    "error",
    "completed_at",
}
FILE_KEYS = {
    "id",
    "object",
    "created_at",
    "filename",
    "bytes",
    "purpose",
    "FileType",
    "Processed",
    "LineCount",
    "processing_status",
}
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
FILE_ID = re.compile(r"^file-[0-9a-f-]{36}$")


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_list_batches_is_a_bare_array_of_exact_batch_jobs(
    emu: Emulator, client: httpx.Client
) -> None:
    jobs = client.get("/v1/batches").json()
    assert isinstance(jobs, list) and len(jobs) == 13
    for job in jobs:
        assert set(job) == BATCH_KEYS
        assert UUID4.match(job["id"])
        assert re.fullmatch(r"[0-9a-f]{24}", job["user_id"])
        assert FILE_ID.match(job["input_file_id"])
        assert job["endpoint"] in ("/v1/chat/completions", "/v1/audio/transcriptions")
        assert isinstance(job["progress"], float) and 0.0 <= job["progress"] <= 100.0
        assert RFC3339.match(job["created_at"]) and RFC3339.match(job["job_deadline"])
        deadline = _ts(job["job_deadline"]) - _ts(job["created_at"])
        assert deadline == timedelta(hours=24) - timedelta(microseconds=5)
        terminal = job["status"] in {"COMPLETED", "FAILED", "EXPIRED", "CANCELLED"}
        assert (job["completed_at"] is not None) == terminal
        if not terminal:
            assert job["output_file_id"] is None and job["error_file_id"] is None
    statuses = sorted(job["status"] for job in jobs)
    assert statuses.count("COMPLETED") == 9
    assert {"FAILED", "EXPIRED", "CANCELLED", "IN_PROGRESS"} <= set(statuses)


def test_retrieve_returns_the_unwrapped_job(emu: Emulator, client: httpx.Client) -> None:
    listed = client.get("/v1/batches").json()
    for job in listed:
        assert client.get(f"/v1/batches/{job['id']}").json() == job
    failed = next(j for j in listed if j["status"] == "FAILED")
    assert failed["error"] and failed["output_file_id"] is None
    assert failed["error_file_id"] is None and failed["progress"] == 0.0
    sizes = {j["id"]: j["file_size_bytes"] for j in listed}
    for job in emu.scenario.jobs:
        content = client.get(f"/v1/files/{job.input_file_id}/content").content
        assert sizes[job.batch_id] == len(content)


def test_empty_scenario_lists_null(empty_client: httpx.Client) -> None:
    response = empty_client.get("/v1/batches")
    assert response.status_code == 200
    assert response.content == b"null"
    assert empty_client.get("/v1/files").json() == {"object": "list", "data": []}


def test_unknown_batch_and_file_use_their_error_envelopes(client: httpx.Client) -> None:
    missing = client.get("/v1/batches/00000000-0000-4000-8000-000000000000")
    assert missing.status_code == 404
    assert isinstance(missing.json()["error"], str)
    missing_file = client.get("/v1/files/file-nope")
    assert missing_file.status_code == 404
    assert set(missing_file.json()["error"]) == {"message", "type", "param", "code"}
    assert client.get("/v1/nothing-here").status_code == 404
    assert client.get("/v2/batches").status_code == 404


def test_auth_rejects_wrong_and_missing_keys(emu: Emulator) -> None:
    assert emu.base_url is not None
    wrong = httpx.get(f"{emu.base_url}/v1/batches", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.json() == {"error": "Invalid API key provided"}
    files = httpx.get(f"{emu.base_url}/v1/files")
    assert files.status_code == 401
    assert files.json()["error"]["message"] == "Invalid API key provided"


def test_any_key_is_accepted_without_a_configured_key(empty_emu: Emulator) -> None:
    assert empty_emu.base_url is not None
    url = f"{empty_emu.base_url}/v1/batches"
    assert httpx.get(url, headers={"Authorization": "Bearer whatever"}).status_code == 200
    assert httpx.get(url, headers={"Authorization": "Basic d2hhdGV2ZXI="}).status_code == 401
    assert httpx.get(url).status_code == 401


def test_files_list_and_retrieve_use_the_superset_file_response(
    emu: Emulator, client: httpx.Client
) -> None:
    listing = client.get("/v1/files").json()
    assert set(listing) == {"object", "data"} and listing["object"] == "list"
    files = {f["id"]: f for f in listing["data"]}
    for record in files.values():
        assert set(record) == FILE_KEYS
        assert record["object"] == "file" and isinstance(record["created_at"], int)
        assert record["FileType"] == "jsonl" and record["Processed"] is True
        assert record["processing_status"] == "COMPLETED"
        assert client.get(f"/v1/files/{record['id']}").json() == record
    jobs = emu.scenario.jobs
    in_progress = next(j for j in jobs if j.completed_at is None)
    for job in jobs:
        assert files[job.input_file_id]["purpose"] == "batch-api"
        assert files[job.input_file_id]["LineCount"] == len(job.items)
        for file_id in (job.output_file_id, job.error_file_id):
            if file_id is None:
                continue
            if job is in_progress:
                assert file_id not in files  # results appear only once the job is terminal
            else:
                assert files[file_id]["purpose"] == "batch-generated"
                assert files[file_id]["created_at"] == int(job.finished_at.timestamp())


def test_delete_file(emu: Emulator, client: httpx.Client) -> None:
    file_id = emu.scenario.jobs[0].input_file_id
    deleted = client.delete(f"/v1/files/{file_id}")
    assert deleted.json() == {"id": file_id, "object": "file", "deleted": True}
    assert client.get(f"/v1/files/{file_id}").status_code == 404
    assert client.get(f"/v1/files/{file_id}/content").status_code == 404
    assert client.delete(f"/v1/files/{file_id}").status_code == 404


ENDPOINT_KEYS = {"object", "id", "name", "model", "type", "owner", "state", "created_at"}


def test_list_endpoints_has_the_sdk_shape_and_filters(client: httpx.Client) -> None:
    """GET /v1/endpoints as together-py's EndpointListResponse: {"object": "list", "data":
    [...]}, created_at with milliseconds and a Z, filtered by type, usage_type and mine."""
    body = client.get("/v1/endpoints").json()
    assert body["object"] == "list" and body["data"]
    for entry in body["data"]:
        assert set(entry) == ENDPOINT_KEYS and entry["object"] == "endpoint"
        assert entry["id"].startswith("endpoint-")
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["created_at"])
        assert entry["state"] in {"PENDING", "STARTING", "STARTED", "STOPPING", "STOPPED", "ERROR"}
    assert {e["type"] for e in body["data"]} == {"dedicated", "serverless"}
    dedicated = client.get("/v1/endpoints", params={"type": "dedicated"}).json()["data"]
    assert dedicated and {e["type"] for e in dedicated} == {"dedicated"}
    mine = client.get("/v1/endpoints", params={"mine": "true"}).json()["data"]
    assert {e["name"] for e in mine} == {e["name"] for e in dedicated}
    reserved = client.get("/v1/endpoints", params={"usage_type": "reserved"}).json()["data"]
    assert reserved == []
    assert client.get("/v1/endpoints", params={"type": "gpu"}).status_code == 400
