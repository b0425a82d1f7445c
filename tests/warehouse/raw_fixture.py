"""A small hand-made `raw_together` dataset, shaped like the dlt ingest's tables.

`build_raw_fixture(db_path)` creates the schema and tables of the ingest contract (names and
types exactly) in a DuckDB file and loads the rows below. The rows are plain Python data so
that tests can compute the expected marts from them independently of SQL.

What it covers:
- batch-llama-sep: COMPLETED, batch-discounted Llama 3.3 70B, created 2025-09-30 and finished
  2025-10-01, so its usage straddles September and October. Metadata team/project, one line
  without metadata, one error-file line, one line never processed, and one orphan output line
  (req-a9) with no input line.
- batch-deepseek-oct: COMPLETED, DeepSeek-V4.1-Flash (no batch row: billed at serverless), with
  cached tokens in both usage shapes, non-string metadata values, and a non-200 output line.
- batch-acme-oct: COMPLETED fine-tune with no price anywhere (unpriced, never $0).
- batch-qwen-nov: IN_PROGRESS Qwen 2.5 7B, no results yet (items pending).
- batch-qwen-expired: EXPIRED with partial output and no completed_at.
- batch-validating: VALIDATING, input file not loaded yet (a job with zero items).
- batch-nomodel-nov: COMPLETED, and nothing names its model: the item is `(unknown)`, unpriced.
- batch-odd-nov: COMPLETED Llama 3.3 70B whose files hold provider bugs (issue 8): negative,
  string, float, object and 1e20 token counts, a succeeded line with null usage, `created`
  out of range, a custom_id answered twice in the output file and once more in the error
  file, a custom_id given twice in the input file, a custom_id with `/`, a quarantined line,
  counts whose sum overflows BIGINT, more cached than prompt tokens, an output line with no
  HTTP status, a usage key given twice, and a total below prompt + completion. None of it may
  fail the build; each is flagged in data_quality_issues.
- batch-ded-a, batch-ded-b, batch-ded-c: jobs on the dedicated endpoint DEDICATED (listed by
  the account's GET /v1/endpoints) in its billing window of prices/dedicated_endpoints.csv,
  2026-11-12 08:00 to 20:00. ded-a (09:00-10:00) and ded-c (IN_PROGRESS since 09:45, last
  usage 10:15:07) overlap; ded-b names the endpoint in its lines only (no model_id) and runs
  19:30-20:30, its last item after the window closes (unpriced). The endpoint's other window
  and the second demo endpoint are named by nothing here: listed, not costed.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

SCHEMA = "raw_together"
LOAD_ID = "1764000000.000001"


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _unix(text: str) -> int:
    return int(_ts(text).timestamp())


def _usage(prompt: int, completion: int, **extra: Any) -> str:
    body: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    body.update(extra)
    return json.dumps(body)


LLAMA = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
DEEPSEEK = "deepseek-ai/DeepSeek-V4.1-Flash"
ACME = "acme-ai/Llama-3.1-8B-labeler-ft"
QWEN = "Qwen/Qwen2.5-7B-Instruct-Turbo"
# The demo's dedicated endpoint (its billing window is in prices/dedicated_endpoints.csv).
DEDICATED = "acme-ai/meta-llama/Llama-3.3-70B-Instruct-Turbo-9f2c41d7"
WHISPER = "openai/whisper-large-v3"
TRANSCRIPTIONS = "/v1/audio/transcriptions"
SEARCH = {"team": "search", "project": "ranker"}
ADS = {"team": "ads", "project": "bidder"}

# Column order and types of each raw table (the ingest contract), plus dlt's own columns.
TABLES: dict[str, dict[str, str]] = {
    "batches": {
        "id": "varchar",
        "user_id": "varchar",
        "input_file_id": "varchar",
        "file_size_bytes": "bigint",
        "status": "varchar",
        "job_deadline": "timestamptz",
        "created_at": "timestamptz",
        "endpoint": "varchar",
        "progress": "double",
        "model_id": "varchar",
        "output_file_id": "varchar",
        "error_file_id": "varchar",
        "error": "varchar",
        "completed_at": "timestamptz",
        "observed_at": "timestamptz",
    },
    "batch_status_history": {
        "batch_id": "varchar",
        "status": "varchar",
        "progress": "double",
        "observed_at": "timestamptz",
    },
    "files": {
        "id": "varchar",
        "object": "varchar",
        "created_at": "bigint",
        "filename": "varchar",
        "bytes": "bigint",
        "purpose": "varchar",
        "file_type": "varchar",
        "processed": "boolean",
        "line_count": "bigint",
        "processing_status": "varchar",
        "observed_at": "timestamptz",
    },
    "file_loads": {
        "file_id": "varchar",
        "batch_id": "varchar",
        "file_kind": "varchar",
        "lines_total": "bigint",
        "lines_loaded": "bigint",
        "lines_quarantined": "bigint",
        "content_bytes": "bigint",
        "sha256": "varchar",
        "loaded_at": "timestamptz",
    },
    "batch_requests": {
        "batch_id": "varchar",
        "file_id": "varchar",
        "line_number": "bigint",
        "custom_id": "varchar",
        "model": "varchar",
        "max_tokens": "bigint",
        "metadata": "varchar",
        "request_bytes": "bigint",
        "body": "varchar",
    },
    "batch_results": {
        "batch_id": "varchar",
        "file_id": "varchar",
        "file_kind": "varchar",
        "line_number": "bigint",
        "result_id": "varchar",
        "custom_id": "varchar",
        "status_code": "integer",
        "usage": "varchar",
        "model": "varchar",
        "created": "bigint",
        "finish_reason": "varchar",
        "error_code": "varchar",
        "error_message": "varchar",
        "completion_text": "varchar",
        "audio_duration": "varchar",
    },
    "endpoints": {
        "id": "varchar",
        "object": "varchar",
        "name": "varchar",
        "model": "varchar",
        "type": "varchar",
        "owner": "varchar",
        "state": "varchar",
        "created_at": "timestamptz",
        "observed_at": "timestamptz",
        "record_hash": "varchar",
    },
    "quarantine": {
        "file_id": "varchar",
        "batch_id": "varchar",
        "file_kind": "varchar",
        "line_number": "bigint",
        "error": "varchar",
        "raw_text": "varchar",
    },
}
DLT_COLUMNS = {"_dlt_load_id": "varchar", "_dlt_id": "varchar"}


def _batch(
    batch_id: str,
    status: str,
    model: str | None,
    created: str,
    completed: str | None,
    *,
    input_file: str,
    output_file: str | None = None,
    error_file: str | None = None,
    progress: float = 100.0,
    endpoint: str = "/v1/chat/completions",
) -> dict[str, Any]:
    created_at = _ts(created)
    return {
        "id": batch_id,
        "user_id": "66f0bd504fb9511df3489b9a",
        "input_file_id": input_file,
        "file_size_bytes": 2048,
        "status": status,
        "job_deadline": created_at + timedelta(hours=24),
        "created_at": created_at,
        "endpoint": endpoint,
        "progress": progress,
        "model_id": model,
        "output_file_id": output_file,
        "error_file_id": error_file,
        "error": None,
        "completed_at": _ts(completed) if completed else None,
        "observed_at": _ts("2025-11-05T12:00:00"),
    }


BATCHES: list[dict[str, Any]] = [
    _batch(
        "batch-llama-sep", "COMPLETED", LLAMA, "2025-09-30T21:00:00", "2025-10-01T02:15:00",
        input_file="file-in-a", output_file="file-out-a", error_file="file-err-a",
    ),
    _batch(
        "batch-deepseek-oct", "COMPLETED", DEEPSEEK, "2025-10-15T10:00:00", "2025-10-15T12:00:00",
        input_file="file-in-b", output_file="file-out-b",
    ),
    _batch(
        "batch-acme-oct", "COMPLETED", ACME, "2025-10-20T08:00:00", "2025-10-20T09:30:00",
        input_file="file-in-c", output_file="file-out-c",
    ),
    _batch(
        "batch-qwen-nov", "IN_PROGRESS", QWEN, "2025-11-03T09:00:00", None,
        input_file="file-in-d", progress=40.0,
    ),
    _batch(
        "batch-qwen-expired", "EXPIRED", QWEN, "2025-11-01T08:00:00", None,
        input_file="file-in-f", output_file="file-out-f",
    ),
    _batch(
        "batch-validating", "VALIDATING", LLAMA, "2025-11-04T07:00:00", None,
        input_file="file-in-e", progress=0.0,
    ),
    # Nothing names a model: not the batch, the request or the result line.
    _batch(
        "batch-nomodel-nov", "COMPLETED", None, "2025-11-11T08:00:00", "2025-11-11T09:00:00",
        input_file="file-in-nm", output_file="file-out-nm",
    ),
    _batch(
        "batch-odd-nov", "COMPLETED", LLAMA, "2025-11-10T08:00:00", "2025-11-10T10:00:00",
        input_file="file-in-odd", output_file="file-out-odd", error_file="file-err-odd",
    ),
    _batch(
        "batch-ded-a", "COMPLETED", DEDICATED, "2026-11-12T09:00:00", "2026-11-12T10:00:00",
        input_file="file-in-ded-a", output_file="file-out-ded-a", error_file="file-err-ded-a",
    ),
    # Names the endpoint in its lines only.
    _batch(
        "batch-ded-b", "COMPLETED", None, "2026-11-12T19:30:00", "2026-11-12T20:30:00",
        input_file="file-in-ded-b", output_file="file-out-ded-b",
    ),
    _batch(
        "batch-ded-c", "IN_PROGRESS", DEDICATED, "2026-11-12T09:45:00", None,
        input_file="file-in-ded-c", output_file="file-out-ded-c", progress=60.0,
    ),
    # Audio transcription batches, billed per minute of audio: one before Whisper's batch
    # row starts (2026-05-11, serverless rate) and one after it (batch rate), with results
    # in the json format (no duration), with odd durations and a failed request.
    _batch(
        "batch-whisper-dec", "COMPLETED", WHISPER, "2025-12-01T08:00:00", "2025-12-01T08:20:00",
        input_file="file-in-w1", output_file="file-out-w1", endpoint=TRANSCRIPTIONS,
    ),
    _batch(
        "batch-whisper-jun", "COMPLETED", WHISPER, "2026-06-15T08:00:00", "2026-06-15T09:00:00",
        input_file="file-in-w2", output_file="file-out-w2", error_file="file-err-w2",
        endpoint="/v1/audio/translations",
    ),
]  # fmt: skip


def _request(
    batch_id: str, file_id: str, line: int, custom_id: str, model: str | None, metadata: Any
) -> dict[str, Any]:
    return {
        "batch_id": batch_id,
        "file_id": file_id,
        "line_number": line,
        "custom_id": custom_id,
        "model": model,
        "max_tokens": 512,
        "metadata": json.dumps(metadata) if metadata is not None else None,
        "request_bytes": 180 + line,
        "body": None,
    }


REQUESTS: list[dict[str, Any]] = [
    _request("batch-llama-sep", "file-in-a", 1, "req-a1", LLAMA, SEARCH),
    _request("batch-llama-sep", "file-in-a", 2, "req-a2", LLAMA, SEARCH),
    _request("batch-llama-sep", "file-in-a", 3, "req-a3", LLAMA, {"team": "ads"}),
    _request("batch-llama-sep", "file-in-a", 4, "req-a4", LLAMA, None),
    _request("batch-llama-sep", "file-in-a", 5, "req-a5", LLAMA, SEARCH),
    _request("batch-deepseek-oct", "file-in-b", 1, "ds-1", DEEPSEEK, {**ADS, "priority": 2}),
    _request("batch-deepseek-oct", "file-in-b", 2, "ds-2", DEEPSEEK, {**ADS, "reviewed": True}),
    _request("batch-deepseek-oct", "file-in-b", 3, "ds-3", DEEPSEEK, {"team": "research"}),
    _request("batch-acme-oct", "file-in-c", 1, "lab-1", ACME, {"team": "labeling"}),
    _request("batch-acme-oct", "file-in-c", 2, "lab-2", ACME, {"team": "labeling"}),
    _request("batch-qwen-nov", "file-in-d", 1, "q-1", QWEN, SEARCH),
    _request("batch-qwen-nov", "file-in-d", 2, "q-2", QWEN, SEARCH),
    _request("batch-qwen-expired", "file-in-f", 1, "qe-1", QWEN, ADS),
    _request("batch-qwen-expired", "file-in-f", 2, "qe-2", QWEN, ADS),
    _request("batch-qwen-expired", "file-in-f", 3, "qe-3", QWEN, None),
    _request("batch-nomodel-nov", "file-in-nm", 1, "nm-1", None, None),
    *(
        _request("batch-odd-nov", "file-in-odd", line, custom_id, LLAMA, {"team": "odd"})
        for line, custom_id in enumerate(
            ["o-neg", "o-null", "o-str", "o-1e20", "o-obj", "o-float", "o-time", "o-twice",
             "o-both", "o-twice", "team/o-slash", "o-huge", "o-ok", "o-ovf", "o-cache",
             "o-status", "o-dupkey", "o-total"],
            start=1,
        )
    ),
    _request("batch-ded-a", "file-in-ded-a", 1, "da-1", DEDICATED, SEARCH),
    _request("batch-ded-a", "file-in-ded-a", 2, "da-2", DEDICATED, SEARCH),
    _request("batch-ded-a", "file-in-ded-a", 3, "da-3", DEDICATED, SEARCH),
    _request("batch-ded-b", "file-in-ded-b", 1, "db-1", DEDICATED, None),
    _request("batch-ded-b", "file-in-ded-b", 2, "db-2", DEDICATED, None),
    _request("batch-ded-c", "file-in-ded-c", 1, "dc-1", DEDICATED, ADS),
    _request("batch-ded-c", "file-in-ded-c", 2, "dc-2", DEDICATED, ADS),
    _request("batch-ded-c", "file-in-ded-c", 3, "dc-3", DEDICATED, ADS),
    _request("batch-whisper-dec", "file-in-w1", 1, "w1-1", WHISPER, {"team": "voice"}),
    _request("batch-whisper-dec", "file-in-w1", 2, "w1-2", WHISPER, {"team": "voice"}),
    *(
        _request("batch-whisper-jun", "file-in-w2", line, custom_id, WHISPER, {"team": "voice"})
        for line, custom_id in enumerate(
            ["w2-ok", "w2-float", "w2-json", "w2-str", "w2-neg", "w2-long", "w2-fail", "w2-int",
             "w2-usage"],
            start=1,
        )
    ),
]  # fmt: skip


def _result(
    batch_id: str,
    file_id: str,
    line: int,
    custom_id: str,
    *,
    status_code: int | None = 200,
    usage: str | None = None,
    model: str | None = None,
    created: str | None = None,
    error: tuple[str, str] | None = None,
    file_kind: str = "output",
    audio_duration: str | None = None,
) -> dict[str, Any]:
    return {
        "batch_id": batch_id,
        "file_id": file_id,
        "file_kind": file_kind,
        "line_number": line,
        "result_id": f"br_{custom_id.replace('-', '')}{line:04d}",
        "custom_id": custom_id,
        "status_code": status_code,
        "usage": usage,
        "model": model,
        "created": _unix(created) if created else None,
        "finish_reason": "stop" if status_code == 200 else None,
        "error_code": error[0] if error else None,
        "error_message": error[1] if error else None,
        "completion_text": None,
        "audio_duration": audio_duration,
    }


RESULTS: list[dict[str, Any]] = [
    # Lines are not in input order, as on Together.
    _result("batch-llama-sep", "file-out-a", 1, "req-a2", usage=_usage(1500, 500),
            model=LLAMA, created="2025-10-01T00:30:00"),
    _result("batch-llama-sep", "file-out-a", 2, "req-a1", usage=_usage(1200, 300),
            model=LLAMA, created="2025-09-30T23:10:00"),
    _result("batch-llama-sep", "file-out-a", 3, "req-a4", usage=_usage(800, 200),
            model=LLAMA, created="2025-09-30T23:59:59"),
    # An orphan: an output line whose custom_id is in no input line.
    _result("batch-llama-sep", "file-out-a", 4, "req-a9", usage=_usage(100, 50),
            model=LLAMA, created="2025-10-01T01:00:00"),
    _result("batch-llama-sep", "file-err-a", 1, "req-a3", status_code=None,
            file_kind="error", error=("timeout", "Request timeout")),
    _result("batch-deepseek-oct", "file-out-b", 1, "ds-1",
            usage=_usage(2000, 500, prompt_tokens_details={"cached_tokens": 1500}),
            model=DEEPSEEK, created="2025-10-15T11:00:00"),
    _result("batch-deepseek-oct", "file-out-b", 2, "ds-2",
            usage=_usage(1000, 1000, cached_tokens=400),
            model=DEEPSEEK, created="2025-10-15T11:05:00"),
    _result("batch-deepseek-oct", "file-out-b", 3, "ds-3", status_code=500,
            model=DEEPSEEK, error=("server_error", "upstream model error")),
    _result("batch-acme-oct", "file-out-c", 1, "lab-2", usage=_usage(280, 25),
            model=ACME, created="2025-10-20T09:00:00"),
    _result("batch-acme-oct", "file-out-c", 2, "lab-1", usage=_usage(300, 20),
            model=ACME, created="2025-10-20T09:01:00"),
    _result("batch-qwen-expired", "file-out-f", 1, "qe-1", usage=_usage(400, 100),
            model=QWEN, created="2025-11-01T20:00:00"),
    *(
        _result("batch-odd-nov", "file-out-odd", line, custom_id, usage=usage, model=LLAMA,
                created="2025-11-10T09:00:00")
        for line, (custom_id, usage) in enumerate(
            [
                ("o-neg", '{"prompt_tokens": -500, "completion_tokens": 20, "total_tokens": -480}'),
                ("o-null", None),
                ("o-str", '{"prompt_tokens": "abc", "completion_tokens": 20}'),
                ("o-1e20", '{"prompt_tokens": 100, "completion_tokens": 1e20}'),
                ("o-obj", '{"prompt_tokens": {"n": 1}, "completion_tokens": 20}'),
                ("o-float", '{"prompt_tokens": 100.5, "completion_tokens": 20}'),
                ("o-time", _usage(300, 30)),
                ("o-twice", _usage(100, 10)),
                ("o-twice", _usage(900, 90)),
                ("o-both", _usage(200, 20)),
                ("team/o-slash", _usage(400, 40)),
                ("o-huge", '{"prompt_tokens": 100, "completion_tokens": 20, '
                           '"prompt_tokens_details": {"cached_tokens": 500000000}}'),
                ("o-ok", _usage(1000, 100, prompt_tokens_details={"cached_tokens": None})),
            ],
            start=1,
        )
    ),
    _result("batch-odd-nov", "file-err-odd", 1, "o-both", status_code=None,
            file_kind="error", error=("timeout", "Request timeout")),
    _result("batch-nomodel-nov", "file-out-nm", 1, "nm-1", usage=_usage(50, 5),
            created="2025-11-11T08:30:00"),
    # Line 14 of file-out-odd is quarantined (below). Then: counts whose sum overflows BIGINT,
    # more cached than prompt tokens, an output line with no readable HTTP status, a usage
    # key given twice, and a total below prompt + completion (the sum stands).
    *(
        _result("batch-odd-nov", "file-out-odd", line, custom_id, usage=usage, model=LLAMA,
                created="2025-11-10T09:00:00", status_code=status)
        for line, (custom_id, usage, status) in enumerate(
            [
                ("o-ovf", '{"prompt_tokens": 5000000000000000000, '
                          '"completion_tokens": 5000000000000000000}', 200),
                ("o-cache", _usage(100, 5, prompt_tokens_details={"cached_tokens": 5000}), 200),
                ("o-status", _usage(100, 5), None),
                ("o-dupkey", '{"prompt_tokens": 10, "prompt_tokens": -500, '
                             '"completion_tokens": 5}', 200),
                ("o-total", '{"prompt_tokens": 700, "completion_tokens": 70, '
                            '"total_tokens": 1}', 200),
            ],
            start=15,
        )
    ),
]  # fmt: skip
RESULTS += [
    _result("batch-ded-a", "file-out-ded-a", 1, "da-2", usage=_usage(900, 100),
            model=DEDICATED, created="2026-11-12T09:20:00"),
    _result("batch-ded-a", "file-out-ded-a", 2, "da-1", usage=_usage(1000, 200),
            model=DEDICATED, created="2026-11-12T09:10:00"),
    _result("batch-ded-a", "file-err-ded-a", 1, "da-3", status_code=None,
            file_kind="error", error=("timeout", "Request timeout")),
    _result("batch-ded-b", "file-out-ded-b", 1, "db-1", usage=_usage(300, 30),
            model=DEDICATED, created="2026-11-12T19:40:00"),
    # After the window closed at 20:00: no window prices it.
    _result("batch-ded-b", "file-out-ded-b", 2, "db-2", usage=_usage(400, 40),
            model=DEDICATED, created="2026-11-12T20:10:00"),
    _result("batch-ded-c", "file-out-ded-c", 1, "dc-1", usage=_usage(500, 33),
            model=DEDICATED, created="2026-11-12T09:50:00"),
    _result("batch-ded-c", "file-out-ded-c", 2, "dc-2", usage=_usage(700, 70),
            model=DEDICATED, created="2026-11-12T10:15:07"),
]  # fmt: skip
# Audio results carry no model, usage or created: their batch's completion is their usage time.
RESULTS += [
    _result("batch-whisper-dec", "file-out-w1", 1, "w1-2", audio_duration="60"),
    _result("batch-whisper-dec", "file-out-w1", 2, "w1-1", audio_duration="1234.5"),
    *(
        _result("batch-whisper-jun", "file-out-w2", line, custom_id, audio_duration=duration,
                usage=usage)
        for line, (custom_id, duration, usage) in enumerate(
            [
                ("w2-ok", "187.52", None),
                # Seconds are read from the JSON text and rounded half up to the microsecond.
                ("w2-float", "7.2562358276643995", None),
                # The json response format: no duration, so no price (never $0).
                ("w2-json", None, None),
                ("w2-str", '"12.5"', None),
                ("w2-neg", "-3.0", None),
                ("w2-long", "14400.5", None),
                ("w2-int", "3600", None),
                # An audio line's usage is not read: it is billed on its duration alone.
                ("w2-usage", "30.0000005", _usage(999, 999)),
            ],
            start=1,
        )
    ),
    _result("batch-whisper-jun", "file-err-w2", 1, "w2-fail", status_code=None,
            file_kind="error", error=("invalid_audio", "Could not decode the audio file")),
]  # fmt: skip
# created far outside any time (seconds since 1970 in the year 3.1 million): not a usage time.
RESULTS[[r["custom_id"] for r in RESULTS].index("o-time")]["created"] = 99_999_999_999_999


def _file_load(
    file_id: str, batch_id: str, kind: str, lines: int, quarantined: int = 0
) -> dict[str, Any]:
    return {
        "file_id": file_id,
        "batch_id": batch_id,
        "file_kind": kind,
        "lines_total": lines + quarantined,
        "lines_loaded": lines,
        "lines_quarantined": quarantined,
        "content_bytes": 200 * (lines + quarantined),
        "sha256": hashlib.sha256(file_id.encode()).hexdigest(),
        "loaded_at": _ts("2025-11-05T12:00:00"),
    }


FILE_LOADS: list[dict[str, Any]] = [
    _file_load("file-in-a", "batch-llama-sep", "input", 5),
    _file_load("file-out-a", "batch-llama-sep", "output", 4),
    _file_load("file-err-a", "batch-llama-sep", "error", 1),
    _file_load("file-in-b", "batch-deepseek-oct", "input", 3),
    _file_load("file-out-b", "batch-deepseek-oct", "output", 3, quarantined=1),
    _file_load("file-in-c", "batch-acme-oct", "input", 2),
    _file_load("file-out-c", "batch-acme-oct", "output", 2),
    _file_load("file-in-d", "batch-qwen-nov", "input", 2),
    _file_load("file-in-f", "batch-qwen-expired", "input", 3),
    _file_load("file-out-f", "batch-qwen-expired", "output", 1),
    _file_load("file-in-nm", "batch-nomodel-nov", "input", 1),
    _file_load("file-out-nm", "batch-nomodel-nov", "output", 1),
    _file_load("file-in-odd", "batch-odd-nov", "input", 18),
    _file_load("file-out-odd", "batch-odd-nov", "output", 18, quarantined=1),
    _file_load("file-err-odd", "batch-odd-nov", "error", 1),
    _file_load("file-in-ded-a", "batch-ded-a", "input", 3),
    _file_load("file-out-ded-a", "batch-ded-a", "output", 2),
    _file_load("file-err-ded-a", "batch-ded-a", "error", 1),
    _file_load("file-in-ded-b", "batch-ded-b", "input", 2),
    _file_load("file-out-ded-b", "batch-ded-b", "output", 2),
    _file_load("file-in-ded-c", "batch-ded-c", "input", 3),
    _file_load("file-out-ded-c", "batch-ded-c", "output", 2),
    _file_load("file-in-w1", "batch-whisper-dec", "input", 2),
    _file_load("file-out-w1", "batch-whisper-dec", "output", 2),
    _file_load("file-in-w2", "batch-whisper-jun", "input", 9),
    _file_load("file-out-w2", "batch-whisper-jun", "output", 8),
    _file_load("file-err-w2", "batch-whisper-jun", "error", 1),
]

# GET /v1/endpoints?type=dedicated as the ingest loads it (a serverless entry too, as a
# server may ignore the filter: staging keeps only the dedicated ones for recognition).
ENDPOINTS: list[dict[str, Any]] = [
    {
        "id": "endpoint-5e3f0b8c-9d1a-4c2e-8f7a-2b6d4e1c9a07",
        "object": "endpoint",
        "name": DEDICATED,
        "model": LLAMA,
        "type": "dedicated",
        "owner": "acme-ai",
        "state": "STARTED",
        "created_at": _ts("2026-11-01T08:00:00"),
        "observed_at": _ts("2026-11-12T21:00:00"),
        "record_hash": "0" * 64,
    },
    {
        "id": "endpoint-0b1c2d3e-4f50-4617-8829-3a4b5c6d7e8f",
        "object": "endpoint",
        "name": QWEN,
        "model": QWEN,
        "type": "serverless",
        "owner": "together",
        "state": "STARTED",
        "created_at": _ts("2024-02-28T21:34:35.444"),
        "observed_at": _ts("2026-11-12T21:00:00"),
        "record_hash": "1" * 64,
    },
]

QUARANTINE: list[dict[str, Any]] = [
    {
        "file_id": "file-out-b",
        "batch_id": "batch-deepseek-oct",
        "file_kind": "output",
        "line_number": 4,
        "error": "not a JSON object",
        "raw_text": '{"id": "br_trunc',
    },
    {
        "file_id": "file-out-odd",
        "batch_id": "batch-odd-nov",
        "file_kind": "output",
        "line_number": 14,
        "error": "missing custom_id",
        "raw_text": '{"id": "br_nocustom", "response": {}}',
    },
]


def _files() -> list[dict[str, Any]]:
    rows = []
    for load in [*FILE_LOADS, {"file_id": "file-in-e", "file_kind": "input", "lines_total": 4}]:
        rows.append(
            {
                "id": load["file_id"],
                "object": "file",
                "created_at": _unix("2025-09-30T20:00:00"),
                "filename": f"{load['file_id']}.jsonl",
                "bytes": 200 * load["lines_total"],
                "purpose": "batch-api" if load["file_kind"] == "input" else "batch-generated",
                "file_type": "jsonl",
                "processed": True,
                "line_count": load["lines_total"],
                "processing_status": "COMPLETED",
                "observed_at": _ts("2025-11-05T12:00:00"),
            }
        )
    return rows


def _status_history() -> list[dict[str, Any]]:
    return [
        {
            "batch_id": batch["id"],
            "status": batch["status"],
            "progress": batch["progress"],
            "observed_at": batch["observed_at"],
        }
        for batch in BATCHES
    ]


# raw_batchledger.invoice_lines, as `batchledger invoice import` loads it: two imported files.
# September ties out exactly, October's DeepSeek line is 0.03 over (outside tolerance) and the
# fine-tune is not invoiced, November is a month total and a credit, December has no usage.
OPS_SCHEMA = "raw_batchledger"
INVOICE_LINE_COLUMNS: dict[str, str] = {
    "file_sha256": "varchar",
    "file_name": "varchar",
    "imported_at": "timestamptz",
    "line_number": "bigint",
    "invoice_month": "varchar",
    "model": "varchar",
    "description": "varchar",
    "amount_usd": "varchar",
    "currency": "varchar",
}


def _invoice_line(
    file: str, line: int, month: str, model: str | None, description: str | None, amount: str
) -> dict[str, Any]:
    return {
        "file_sha256": hashlib.sha256(file.encode()).hexdigest(),
        "file_name": file,
        "imported_at": _ts("2025-12-02T09:00:00"),
        "line_number": line,
        "invoice_month": month,
        "model": model,
        "description": description,
        "amount_usd": amount,
        "currency": "USD",
    }


INVOICE_LINES: list[dict[str, Any]] = [
    _invoice_line("together-2025-q3.csv", 2, "2025-09", None, "Batch inference", "0.0011"),
    _invoice_line("together-2025-q4.csv", 2, "2025-10", LLAMA, None, "0.000946"),
    _invoice_line("together-2025-q4.csv", 3, "2025-10", DEEPSEEK, "Batch", "0.0321414"),
    _invoice_line("together-2025-q4.csv", 4, "2025-10", None, "Support plan", "0.001"),
    _invoice_line("together-2025-q4.csv", 5, "2025-11", None, "Batch inference", "0.0014"),
    _invoice_line("together-2025-q4.csv", 6, "2025-11", None, "Credit", "-0.0001"),
    # A month invoiced in which nothing was used (December has the audio fixture's job).
    _invoice_line("together-2026-01.csv", 2, "2026-01", None, "Batch inference", "0.5"),
]


def rows_by_table() -> dict[str, list[dict[str, Any]]]:
    """Every fixture row, keyed by raw table name."""
    return {
        "batches": BATCHES,
        "batch_status_history": _status_history(),
        "files": _files(),
        "file_loads": FILE_LOADS,
        "batch_requests": REQUESTS,
        "batch_results": RESULTS,
        "quarantine": QUARANTINE,
        "endpoints": ENDPOINTS,
    }


def build_raw_fixture(db_path: Path | str) -> Path:
    """Create schema `raw_together` with the contract's tables in `db_path` and load the rows,
    and raw_batchledger.invoice_lines with the invoice lines."""
    path = Path(db_path)
    with duckdb.connect(str(path)) as con:
        con.execute(f"create schema if not exists {SCHEMA}")
        for table, rows in rows_by_table().items():
            columns = {**TABLES[table], **DLT_COLUMNS}
            ddl = ", ".join(f"{name} {data_type}" for name, data_type in columns.items())
            con.execute(f"create or replace table {SCHEMA}.{table} ({ddl})")
            names = list(columns)
            placeholders = ", ".join("?" for _ in names)
            con.executemany(
                f"insert into {SCHEMA}.{table} ({', '.join(names)}) values ({placeholders})",
                [
                    [row.get(name) for name in TABLES[table]] + [LOAD_ID, f"{table}-{index}"]
                    for index, row in enumerate(rows)
                ],
            )
        con.execute(f"create schema if not exists {OPS_SCHEMA}")
        columns = {**INVOICE_LINE_COLUMNS, **DLT_COLUMNS}
        ddl = ", ".join(f"{name} {data_type}" for name, data_type in columns.items())
        con.execute(f"create or replace table {OPS_SCHEMA}.invoice_lines ({ddl})")
        con.executemany(
            f"insert into {OPS_SCHEMA}.invoice_lines values ({', '.join('?' for _ in columns)})",
            [
                [row[name] for name in INVOICE_LINE_COLUMNS] + [LOAD_ID, f"invoice_lines-{index}"]
                for index, row in enumerate(INVOICE_LINES)
            ],
        )
    return path
