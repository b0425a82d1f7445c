"""The bench's data generator and bulk emulator at a tiny size: what they serve is what loads."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from batchledger.bench.cases import BENCH_KEY, generate, loaded_counts
from batchledger.bench.children import cli_child, run_child
from batchledger.emulator import DEMO_NOW, Emulator, Scenario


def test_bulk_files_are_together_shaped_and_complete(tmp_path: Path) -> None:
    # One request in 1000 fails (account-wide lines 500 and 1500): one in each job.
    data, _ = generate(tmp_path, 2, 1000)
    for job in data.jobs:
        assert job.output is not None and job.error is not None
        outputs = [json.loads(line) for line in job.output.path.open()]
        errors = [json.loads(line) for line in job.error.path.open()]
        inputs = [json.loads(line) for line in job.input.path.open()]
        assert (len(outputs), len(errors), len(inputs)) == (999, 1, 1000)
        assert list(outputs[0]) == ["id", "custom_id", "response"]
        assert outputs[0]["id"].startswith("br_") and len(outputs[0]["id"]) == 46
        body = outputs[0]["response"]["body"]
        assert list(body) == sorted(body)
        usage = body["usage"]
        assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
        assert errors[0]["error"]["code"] == "timeout"
        # Every request has exactly one result line, in an order other than the input's.
        result_ids = [line["custom_id"] for line in outputs + errors]
        assert sorted(result_ids) == sorted(line["custom_id"] for line in inputs)
        assert result_ids[: len(outputs)] != [line["custom_id"] for line in inputs][:999]


def test_bulk_emulator_serves_files_from_disk_with_ranges(tmp_path: Path) -> None:
    data, _ = generate(tmp_path, 1, 50)
    job = data.jobs[0]
    assert job.output is not None
    content = job.output.path.read_bytes()
    with Emulator(scenario=Scenario(now=DEMO_NOW), time_scale=0) as emu:
        emu.add_bulk_job(job)
        headers = {"Authorization": "Bearer any"}
        with httpx.Client(base_url=str(emu.base_url), headers=headers, timeout=10) as http:
            (batch,) = http.get("/v1/batches").json()
            assert batch["status"] == "COMPLETED" and batch["progress"] == 100.0
            assert batch["file_size_bytes"] == job.input.path.stat().st_size
            listed = {f["id"]: f for f in http.get("/v1/files").json()["data"]}
            meta = listed[job.job.output_file_id]
            assert (meta["bytes"], meta["LineCount"]) == (len(content), 50)
            url = f"/v1/files/{job.job.output_file_id}/content"
            assert http.get(url).content == content
            part = http.get(url, headers={"Range": "bytes=100-"})
            assert part.status_code == 206
            assert part.headers["content-range"] == f"bytes 100-{len(content) - 1}/{len(content)}"
            assert part.content == content[100:]
            assert http.get(url, headers={"Range": f"bytes={len(content)}-"}).status_code == 416


@pytest.mark.slow
def test_cli_ingest_loads_exactly_the_generated_lines(tmp_path: Path) -> None:
    data, _ = generate(tmp_path / "files", 2, 50)
    db_path = tmp_path / "run" / "warehouse.duckdb"
    db_path.parent.mkdir()
    with Emulator(scenario=Scenario(now=DEMO_NOW), time_scale=0) as emu:
        for job in data.jobs:
            emu.add_bulk_job(job)
        env = {
            "TOGETHER_API_KEY": BENCH_KEY,
            "TOGETHER_BASE_URL": str(emu.base_url),
            "BATCHLEDGER_DB": str(db_path),
        }
        run = run_child(cli_child("ingest", "--no-build"), cwd=db_path.parent, env=env, label="t")
    assert data.requests == 100 and data.results == 100
    assert loaded_counts(db_path) == (data.requests, data.results)
    assert run.tree_peak_mb > 0
    assert BENCH_KEY not in run.stdout
