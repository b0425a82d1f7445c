"""The demo scenario's promises (the demo and cost tests rely on them) and bulk volume."""

from __future__ import annotations

from collections import Counter
from datetime import date

import httpx

from batchledger.emulator import DEMO_MODELS, Emulator, demo_scenario, large_scenario
from batchledger.emulator.demo import LLAMA_8B


def test_demo_scenario_is_deterministic() -> None:
    assert demo_scenario() == demo_scenario()


def test_demo_scenario_covers_every_case() -> None:
    scenario = demo_scenario()
    jobs = scenario.jobs
    assert len(jobs) == 13
    assert {(j.created_at.year, j.created_at.month) for j in jobs} == {(2026, 10), (2026, 11)}
    assert all(20 <= len(j.items) <= 60 for j in jobs)
    statuses = Counter(j.status_at(scenario.now) for j in jobs)
    assert statuses == {
        "COMPLETED": 9,
        "FAILED": 1,
        "EXPIRED": 1,
        "CANCELLED": 1,
        "IN_PROGRESS": 1,
    }
    by_status = {j.status_at(scenario.now): j for j in jobs}
    failed = by_status["FAILED"]
    assert failed.error and failed.output_file_id is None
    assert failed.outcome_counts()["not_processed"] == len(failed.items)
    for status in ("EXPIRED", "CANCELLED"):
        counts = by_status[status].outcome_counts()
        assert counts["succeeded"] > 0 and counts["not_processed"] > 0
    running = by_status["IN_PROGRESS"]
    assert running.completed_at is None and running.final_status == "COMPLETED"
    assert (running.finished_at - scenario.now).total_seconds() <= 2 * 3600
    assert running.outcome_counts()["failed"] in (1, 2)
    completed_with_failures = [
        j for j in jobs if j.completed_at and j.final_status == "COMPLETED" and j.error_file_id
    ]
    assert len(completed_with_failures) >= 2

    items = [i for j in jobs for i in j.items]
    succeeded_models = {i.model for i in items if i.outcome == "succeeded"}
    assert succeeded_models == {m.name for m in DEMO_MODELS}
    metadata = [i.metadata for i in items]
    assert {m["team"] for m in metadata if m and "team" in m} == {
        "search",
        "support",
        "growth",
        "voice",
    }
    assert any(m is None for m in metadata)
    assert any(m is not None and set(m) == {"project"} for m in metadata)
    # One job runs across the end of its model's batch discount (2026-11-28, before `now`):
    # requests done on both sides of it.
    [ending] = [j for j in jobs if j.model_id == LLAMA_8B]
    assert ending.completed_at is not None and ending.completed_at < scenario.now
    days = Counter(i.processed_at.date() for i in ending.items if i.processed_at)
    assert set(days) == {date(2026, 11, 27), date(2026, 11, 28)}
    # One audio transcription job: most lines report a duration (verbose_json), two do not.
    [audio] = [j for j in jobs if j.endpoint == "/v1/audio/transcriptions"]
    formats = Counter(i.audio.response_format for i in audio.items if i.audio)
    assert formats == {"verbose_json": 18, "json": 2}
    assert all(
        (i.audio_duration is not None) == (i.audio.response_format == "verbose_json")
        for i in audio.items
        if i.outcome == "succeeded" and i.audio
    )


def test_large_scenario_serves_every_line() -> None:
    scenario = large_scenario(10_000)
    job = scenario.jobs[0]
    assert job.outcome_counts() == {"succeeded": 9990, "failed": 10, "not_processed": 0}
    with Emulator(scenario=scenario, time_scale=0) as emu:
        headers = {"Authorization": "Bearer k"}
        url = f"{emu.base_url}/v1/files/{job.output_file_id}/content"
        content = httpx.get(url, headers=headers, timeout=30).content
        assert content.count(b"\n") == 9990
