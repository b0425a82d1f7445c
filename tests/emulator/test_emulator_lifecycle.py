"""Job lifecycle on the virtual clock, the upload flows (F5-F7, F12) and cancel."""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest

from batchledger.emulator import Emulator


def _jsonl(n: int, *, bad_model_at: tuple[int, ...] = (), prefix: str = "req") -> bytes:
    lines = []
    for i in range(1, n + 1):
        model = "invalid/model" if i in bad_model_at else "Qwen/Qwen2.5-7B-Instruct-Turbo"
        body = {"model": model, "messages": [{"role": "user", "content": "hello world"}]}
        if i % 2:
            body["max_tokens"] = 64
        record = {"custom_id": f"{prefix}-{i}", "body": body, "metadata": {"team": "search"}}
        lines.append(json.dumps(record))
    return ("\n".join(lines) + "\n").encode()


def _upload(client: httpx.Client, content: bytes, name: str = "batch.jsonl") -> str:
    """The v3 SDK flow: F5 (302 + presigned URL), F6 (PUT), F7 (preprocess)."""
    fields = {
        "purpose": (None, "batch-api"),
        "file_name": (None, name),
        "file_type": (None, "jsonl"),
        "checksum": (None, hashlib.sha256(content).hexdigest()),
    }
    start = client.post("/v1/files", files=fields)
    assert start.status_code == 302, start.text
    file_id = start.headers["x-together-file-id"]
    assert start.headers["location"].endswith(f"/_emulator/upload/{file_id}")
    assert httpx.put(start.headers["location"], content=content).status_code == 200
    done = client.post(f"/v1/files/{file_id}/preprocess")
    assert done.status_code == 200
    record = done.json()
    assert record["id"] == file_id and record["bytes"] == len(content)
    assert record["LineCount"] == content.count(b"\n")
    assert record["processing_status"] == "COMPLETED" and record["purpose"] == "batch-api"
    return file_id


def _create(client: httpx.Client, file_id: str) -> dict:
    response = client.post(
        "/v1/batches",
        json={
            "endpoint": "/v1/chat/completions",
            "input_file_id": file_id,
            "completion_window": "24h",
        },
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert set(created) == {"job", "warning"} and created["warning"] is None
    return created["job"]


def _status(client: httpx.Client, batch_id: str) -> dict:
    return client.get(f"/v1/batches/{batch_id}").json()


def test_in_progress_demo_job_completes_on_the_virtual_clock(
    emu: Emulator, client: httpx.Client
) -> None:
    job = next(j for j in emu.scenario.jobs if j.completed_at is None)
    seen = [_status(client, job.batch_id)]
    assert seen[0]["status"] == "IN_PROGRESS" and 0 < seen[0]["progress"] < 100
    while seen[-1]["status"] == "IN_PROGRESS":
        emu.advance(1200)
        seen.append(_status(client, job.batch_id))
    progress = [s["progress"] for s in seen]
    assert progress == sorted(progress) and len(set(progress)) > 3
    final = seen[-1]
    assert final["status"] == "COMPLETED" and final["progress"] == 100.0
    assert (emu.now() - emu.scenario.now).total_seconds() <= 2 * 3600
    assert final["output_file_id"] == job.output_file_id
    assert job.error_file_id is not None
    assert final["error_file_id"] == job.error_file_id
    assert final["completed_at"] is not None
    lines = client.get(f"/v1/files/{job.output_file_id}/content").content.splitlines()
    assert len(lines) == job.outcome_counts()["succeeded"]
    errors = client.get(f"/v1/files/{job.error_file_id}/content").content.splitlines()
    assert len(errors) == job.outcome_counts()["failed"]
    assert len(errors) in (1, 2)


def test_create_runs_to_completion_with_an_error_file(emu: Emulator, client: httpx.Client) -> None:
    file_id = _upload(client, _jsonl(6, bad_model_at=(4,)))
    created = _create(client, file_id)
    assert created["status"] == "VALIDATING" and created["progress"] == 0.0
    assert created["model_id"] == "Qwen/Qwen2.5-7B-Instruct-Turbo"
    assert created["input_file_id"] == file_id and created["output_file_id"] is None
    emu.advance(10)
    assert _status(client, created["id"])["status"] == "IN_PROGRESS"
    emu.advance(30)
    done = _status(client, created["id"])
    assert done["status"] == "COMPLETED" and done["progress"] == 100.0
    truth = emu.job(created["id"])
    output = [
        json.loads(x)
        for x in client.get(f"/v1/files/{done['output_file_id']}/content").content.splitlines()
    ]
    assert len(output) == 5
    for line in output:
        usage = line["response"]["body"]["usage"]
        assert usage["prompt_tokens"] == len("hello world") // 4 + 8
        item = next(i for i in truth.items if i.custom_id == line["custom_id"])
        assert usage["completion_tokens"] == item.completion_tokens
        assert line["response"]["body"]["created"] == item.created
    errors = client.get(f"/v1/files/{done['error_file_id']}/content").content.splitlines()
    assert [json.loads(x)["error"]["code"] for x in errors] == ["invalid_model"]
    listed = {f["id"] for f in client.get("/v1/files").json()["data"]}
    assert {file_id, done["output_file_id"], done["error_file_id"]} <= listed


def test_invalid_input_fails_the_job_during_validation(emu: Emulator, client: httpx.Client) -> None:
    content = _jsonl(3) + _jsonl(1)  # "req-1" twice
    created = _create(client, _upload(client, content))
    emu.advance(10)
    failed = _status(client, created["id"])
    assert failed["status"] == "FAILED" and "duplicate custom_id" in failed["error"]
    assert failed["output_file_id"] is None and failed["error_file_id"] is None


def test_create_rejects_unknown_input_files(client: httpx.Client) -> None:
    response = client.post(
        "/v1/batches", json={"endpoint": "/v1/chat/completions", "input_file_id": "file-nope"}
    )
    assert response.status_code == 400 and isinstance(response.json()["error"], str)


def test_cancel_settles_on_cancelled_and_keeps_finished_items(
    emu: Emulator, client: httpx.Client
) -> None:
    created = _create(client, _upload(client, _jsonl(40)))  # 80 virtual seconds of work
    emu.advance(10 + 40)
    cancel_at = emu.now()
    canceling = client.post(f"/v1/batches/{created['id']}/cancel")
    assert canceling.status_code == 200
    assert canceling.json()["status"] == "CANCELING"
    frozen = canceling.json()["progress"]
    assert 0 < frozen < 100
    emu.advance(60)
    cancelled = _status(client, created["id"])
    assert cancelled["status"] == "CANCELLED" and cancelled["progress"] == frozen
    assert cancelled["completed_at"] is not None
    truth = emu.job(created["id"])
    done = [i for i in truth.items if i.outcome == "succeeded"]
    assert done and all(i.processed_at is not None and i.processed_at <= cancel_at for i in done)
    assert len(done) == round(frozen * 40 / 100)
    output = client.get(f"/v1/files/{cancelled['output_file_id']}/content").content
    assert {json.loads(x)["custom_id"] for x in output.splitlines()} == {i.custom_id for i in done}
    again = client.post(f"/v1/batches/{created['id']}/cancel")
    assert again.status_code == 400 and isinstance(again.json()["error"], str)


def test_duplicate_upload_is_a_409_that_must_not_be_retried(client: httpx.Client) -> None:
    content = _jsonl(3, prefix="dup")
    first = _upload(client, content)
    fields = {
        "purpose": (None, "batch-api"),
        "file_name": (None, "again.jsonl"),
        "checksum": (None, hashlib.sha256(content).hexdigest()),
    }
    again = client.post("/v1/files", files=fields)
    assert again.status_code == 409
    assert again.json() == {"file_id": first}
    assert again.headers["x-should-retry"] == "false"
    direct = client.post(
        "/v1/files/upload",
        files={
            "purpose": (None, "batch-api"),
            "file_name": (None, "x.jsonl"),
            "file": ("x.jsonl", content),
        },
    )
    assert direct.status_code == 409 and direct.json() == {"file_id": first}


def test_checksum_mismatch_is_rejected_on_put(client: httpx.Client) -> None:
    fields = {
        "purpose": (None, "batch-api"),
        "file_name": (None, "a.jsonl"),
        "checksum": (None, hashlib.sha256(b"something else").hexdigest()),
    }
    start = client.post("/v1/files", files=fields)
    assert httpx.put(start.headers["location"], content=_jsonl(2)).status_code == 400


def test_v1_urlencoded_upload_and_direct_uploads(client: httpx.Client) -> None:
    start = client.post(
        "/v1/files", data={"purpose": "batch-api", "file_name": "v1.jsonl", "file_type": "jsonl"}
    )
    assert start.status_code == 302
    content = _jsonl(2, prefix="v1")
    assert httpx.put(start.headers["location"], content=content).status_code == 200
    assert (
        client.post(f"/v1/files/{start.headers['x-together-file-id']}/preprocess").json()[
            "LineCount"
        ]
        == 2
    )
    for path, prefix in (("/v1/files/upload", "f12"), ("/v1/files", "curl")):
        data = _jsonl(4, prefix=prefix)
        response = client.post(
            path,
            files={
                "purpose": (None, "batch-api"),
                "file_name": (None, f"{prefix}.jsonl"),
                "file": (f"{prefix}.jsonl", data),
            },
        )
        assert response.status_code == 200, response.text
        record = response.json()
        assert record["LineCount"] == 4 and record["bytes"] == len(data)
        assert record["filename"] == f"{prefix}.jsonl"
        assert client.get(f"/v1/files/{record['id']}/content").content == data


@pytest.mark.parametrize("missing", ["purpose", "file_name"])
def test_upload_requires_purpose_and_name(client: httpx.Client, missing: str) -> None:
    fields = {"purpose": (None, "batch-api"), "file_name": (None, "a.jsonl")}
    del fields[missing]
    response = client.post("/v1/files", files=fields)
    assert response.status_code == 400
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}
