"""submit: validation, estimate, confirmation, upload + create, the local record, --wait."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from batchledger.cli import ops as commands
from batchledger.emulator import Emulator
from batchledger.ops.estimate import estimate
from batchledger.ops.validate import check_file
from batchledger.settings import Settings
from batchledger.store import ops_dir, read_submissions
from tests.conftest import make_settings
from tests.ops.conftest import LLAMA, point_env_at, request, write_jsonl


def uploads(emulator: Emulator) -> list[Any]:
    return [r for r in emulator.request_log if r.path.startswith("/v1/files") or r.method == "PUT"]


def test_five_kinds_of_invalid_lines_are_reported_and_nothing_uploaded(
    cli: Any, ops_settings: Settings, emulator: Emulator, tmp_path: Path
) -> None:
    path = write_jsonl(
        tmp_path / "bad.jsonl",
        [
            request("ok-1"),
            "{not json",  # 2: invalid JSON
            request("x" * 65),  # 3: custom_id too long
            request("ok-1"),  # 4: duplicate custom_id
            {"custom_id": "no-body"},  # 5: no body
            request("no-model", model=None),  # 6: no model and no --model
        ],
    )
    emulator.reset_log()
    result = cli("submit", str(path), "--yes")
    assert result.exit_code == 2, result.output
    assert "5 problem(s), nothing uploaded" in result.stderr
    for line, words in [
        (2, "not valid JSON"),
        (3, "custom_id has 65 characters"),
        (4, "custom_id 'ok-1' duplicates line 1"),
        (5, "body is missing"),
        (6, "no model"),
    ]:
        assert f"bad.jsonl: line {line}: {words}" in result.stderr
    assert "Traceback" not in result.output
    assert emulator.request_log == []


def test_file_limits_are_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from batchledger.ops import validate

    monkeypatch.setattr(validate, "MAX_LINES", 2)
    monkeypatch.setattr(validate, "MAX_BYTES", 10)
    path = write_jsonl(tmp_path / "big.jsonl", [request(f"id-{n}") for n in range(3)])
    problems = [str(p) for p in check_file(path).problems]
    assert any("the limit is 10" in p for p in problems)
    assert any("file has 3 lines; the limit is 2" in p for p in problems)


def test_estimate_is_an_upper_bound_in_decimal_with_warnings(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "mix.jsonl",
        [
            request("a", max_tokens=1000),  # 400 chars -> 100 prompt tokens
            request("b", model="deepseek-ai/DeepSeek-V4.1-Flash", max_tokens=1000),
            request("c", model="acme-ai/Llama-3.1-8B-labeler-ft"),
        ],
    )
    result = estimate(check_file(path).requests)
    by_model = {m.model: m for m in result.models}
    llama = by_model[LLAMA]
    assert (llama.prompt_tokens, llama.max_output_tokens) == (100, 1000)
    assert llama.pricing_mode == "batch"
    # Batch rate 0.44 USD per million tokens, input and output alike.
    assert llama.cost_usd == Decimal(1100) * Decimal("0.44") / Decimal(1_000_000)
    assert by_model["deepseek-ai/DeepSeek-V4.1-Flash"].pricing_mode == "serverless"
    assert by_model["acme-ai/Llama-3.1-8B-labeler-ft"].cost_usd is None
    assert result.total_usd is None
    text = "\n".join(result.warnings)
    assert "DeepSeek-V4.1-Flash: no batch discount" in text
    assert "labeler-ft: no price" in text


def test_refuses_without_yes_when_stdin_is_not_a_terminal(
    cli: Any, ops_settings: Settings, emulator: Emulator, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "ok.jsonl", [request("a")])
    emulator.reset_log()
    result = cli("submit", str(path))
    assert result.exit_code == 2
    assert "pass --yes" in result.stderr
    assert uploads(emulator) == []


def test_submit_uploads_creates_and_records_tags(
    cli: Any, ops_settings: Settings, emulator: Emulator, tmp_path: Path
) -> None:
    path = write_jsonl(
        tmp_path / "ok.jsonl", [request("a"), request("b", model=None, max_tokens=50)]
    )
    result = cli(
        "submit", str(path), "--model", LLAMA, "--tag", "team=search", "--tag", "project=x",
        "--yes", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output + result.stderr
    payload = json.loads(result.stdout)
    batch_id = payload["batch_id"]
    assert emulator.job(batch_id).model_id == LLAMA
    assert payload["tags"] == {"team": "search", "project": "x"}
    assert Decimal(payload["estimate"]["total_usd"]) > 0
    [recorded] = read_submissions(ops_settings)
    assert (recorded.batch_id, recorded.lines, recorded.tags["team"]) == (batch_id, 2, "search")
    tags_csv = (ops_dir(ops_settings) / "batch_tags.csv").read_text()
    assert f"{batch_id},team,search" in tags_csv


def test_submit_wait_polls_to_the_end_then_ingests(
    cli: Any,
    fast_emulator: Emulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = point_env_at(monkeypatch, make_settings(tmp_path, fast_emulator.base_url or ""))
    ingested: list[Settings] = []
    monkeypatch.setattr(commands, "_ingest_after_wait", lambda s, _: ingested.append(s) or {})
    path = write_jsonl(tmp_path / "ok.jsonl", [request("a"), request("b")])
    result = cli("submit", str(path), "--yes", "--wait", "--interval", "0.05")
    assert result.exit_code == 0, result.output + result.stderr
    assert "ended COMPLETED" in result.stdout
    assert [s.db_path for s in ingested] == [settings.db_path]


@pytest.mark.parametrize(
    ("setup", "code", "words"),
    [
        ("missing", 2, "no such file"),
        ("wrong_key", 3, "check TOGETHER_API_KEY"),
        ("unreachable", 5, "Could not reach Together"),
        ("no_key", 3, "No API key"),
    ],
)
def test_submit_bad_input_is_one_line(
    cli: Any,
    ops_settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    setup: str,
    code: int,
    words: str,
) -> None:
    path = write_jsonl(tmp_path / "ok.jsonl", [request("a")])
    if setup == "missing":
        path = tmp_path / "nope.jsonl"
    elif setup == "wrong_key":
        monkeypatch.setenv("TOGETHER_API_KEY", "wrong")
    elif setup == "unreachable":
        monkeypatch.setenv("TOGETHER_BASE_URL", "http://127.0.0.1:9")
    else:
        monkeypatch.delenv("TOGETHER_API_KEY")
    result = cli("submit", str(path), "--yes")
    assert result.exit_code == code, result.output + result.stderr
    assert words in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_models_not_available_for_batch_are_refused_unless_forced(
    cli: Any, ops_settings: Settings, emulator: Emulator, tmp_path: Path
) -> None:
    # Kimi-K2.6 is on Together's "not available for batch" list; DeepSeek-V4.1-Flash merely has
    # no batch discount and is accepted at standard rates.
    path = write_jsonl(
        tmp_path / "mixed.jsonl",
        [
            request("a", model="moonshotai/Kimi-K2.6"),
            request("b", model="moonshotai/Kimi-K2.6"),
            request("c", model="deepseek-ai/DeepSeek-V4.1-Flash"),
        ],
    )
    emulator.reset_log()
    refused = cli("submit", str(path), "--yes")
    assert refused.exit_code == 2, refused.output
    assert "moonshotai/Kimi-K2.6 (2 line(s)) is not available for batch" in refused.stderr
    assert "--force" in refused.stderr and "DeepSeek" not in refused.stderr
    assert uploads(emulator) == []

    forced = cli("submit", str(path), "--yes", "--force", "--json")
    assert forced.exit_code == 0, forced.output + forced.stderr
    assert "warning: moonshotai/Kimi-K2.6 (2 line(s)) is not available" in forced.stderr
    assert len(read_submissions(ops_settings)) == 1


def test_models_not_available_for_batch_are_matched_in_any_letter_case(
    cli: Any, emulator: Emulator, tmp_path: Path
) -> None:
    path = write_jsonl(
        tmp_path / "lower.jsonl",
        [request("a", model="moonshotai/kimi-k2.6"), request("b", model="MINIMAXAI/MINIMAX-M2.7")],
    )
    emulator.reset_log()
    refused = cli("submit", str(path), "--yes")
    assert refused.exit_code == 2, refused.output
    # Named as the file writes them.
    assert "moonshotai/kimi-k2.6 (1 line(s)) is not available for batch" in refused.stderr
    assert "MINIMAXAI/MINIMAX-M2.7 (1 line(s)) is not available for batch" in refused.stderr
    assert uploads(emulator) == []


def test_a_model_without_a_discount_is_submitted_without_force(
    cli: Any, ops_settings: Settings, emulator: Emulator, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "std.jsonl", [request("a", model="deepseek-ai/DeepSeek-V3")])
    result = cli("submit", str(path), "--yes", "--json")
    assert result.exit_code == 0, result.output + result.stderr
    assert "not available for batch" not in result.stderr


WHISPER = "openai/whisper-large-v3"


def audio_request(custom_id: str, response_format: str | None = "verbose_json") -> dict[str, Any]:
    """An audio batch line as Together documents it (method FILE, the audio's URL)."""
    body: dict[str, Any] = {"file": f"https://calls.example.com/{custom_id}.wav", "model": WHISPER}
    if response_format is not None:
        body["response_format"] = response_format
    return {"custom_id": custom_id, "method": "FILE", "body": body}


def test_estimate_warns_of_audio_lines_in_a_format_without_durations(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "calls.jsonl",
        [
            audio_request("v-1"),
            audio_request("j-2", "json"),
            audio_request("d-3", None),  # Together's default format is json
            audio_request("v-4"),
        ],
    )
    result = estimate(check_file(path).requests)
    [whisper] = result.models
    assert (whisper.model, whisper.audio_lines, whisper.pricing_mode) == (WHISPER, 4, "batch")
    # Billed per minute of audio, whose length only the results tell: no bound, no tokens.
    assert (whisper.cost_usd, whisper.prompt_tokens, whisper.max_output_tokens) == (None, 0, 0)
    [fmt] = [w for w in result.warnings if "response_format" in w]
    assert "2 audio line(s) ask for response_format 'json' (line 2, 3)" in fmt
    assert "verbose_json" in fmt and "unpriced" in fmt
    assert not any("max_tokens" in w for w in result.warnings)
    clean = write_jsonl(tmp_path / "verbose.jsonl", [audio_request("v-1")])
    assert not any("response_format" in w for w in estimate(check_file(clean).requests).warnings)


def test_submit_audio_batch_warns_and_creates_it_on_the_audio_endpoint(
    cli: Any, ops_settings: Settings, emulator: Emulator, tmp_path: Path
) -> None:
    path = write_jsonl(
        tmp_path / "calls.jsonl", [audio_request("v-1"), audio_request("j-2", "json")]
    )
    # Audio lines need an audio endpoint: refused before anything is uploaded.
    emulator.reset_log()
    refused = cli("submit", str(path), "--yes")
    assert refused.exit_code == 2 and "--endpoint /v1/audio/transcriptions" in refused.stderr
    assert uploads(emulator) == []
    result = cli(
        "submit", str(path), "--endpoint", "/v1/audio/transcriptions", "--yes", "--json"
    )  # fmt: skip
    assert result.exit_code == 0, result.output + result.stderr
    assert "warning:" in result.stderr and "response_format 'json' (line 2)" in result.stderr
    payload = json.loads(result.stdout)
    assert any("verbose_json" in w for w in payload["estimate"]["warnings"])
    job = emulator.job(payload["batch_id"])
    assert (job.endpoint, job.model_id) == ("/v1/audio/transcriptions", WHISPER)
    formats = sorted(
        (item.custom_id, item.audio.response_format) for item in job.items if item.audio
    )
    assert formats == [("j-2", "json"), ("v-1", "verbose_json")]


def test_estimate_of_a_dedicated_endpoint_names_its_billing_window(tmp_path: Path) -> None:
    endpoint = "acme-ai/meta-llama/Llama-3.3-70B-Instruct-Turbo-9f2c41d7"
    seed = tmp_path / "dedicated_endpoints.csv"
    seed.write_text(
        "provider,endpoint,model,hardware,usd_per_hour,billed_from,billed_to,source\n"
        f"together,{endpoint},{LLAMA},2x_h100,6.72,2026-11-12 08:00:00,2026-11-12 20:00:00,t\n"
    )
    # Named in another case, as model ids are matched (and as the marts match it).
    path = write_jsonl(tmp_path / "ded.jsonl", [request("a", model=endpoint.upper())])
    requests = check_file(path).requests
    during = estimate(requests, dedicated_csv=seed, on=datetime(2026, 11, 12, 9, tzinfo=UTC))
    [entry] = during.models
    assert (entry.pricing_mode, entry.cost_usd) == ("dedicated", None)
    text = "\n".join(during.warnings)
    assert "billed by the hour" in text and "6.72 USD/hour" in text
    assert "prices/dedicated_endpoints.csv" in text and "UNPRICED" not in text
    after = estimate(requests, dedicated_csv=seed, on=datetime(2026, 11, 13, tzinfo=UTC))
    assert after.models[0].pricing_mode == "dedicated"
    assert any("no billing window from now on" in w for w in after.warnings)
