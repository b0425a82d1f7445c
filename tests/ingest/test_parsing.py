"""Line parsing: exact line numbers, quarantine reasons, and chunking that never splits a line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from batchledger.sources.together_batches.helpers import FileTally, iter_line_chunks, parse_file

OUTPUT_LINE = {
    "id": "br_1",
    "custom_id": "req-1",
    "response": {
        "status_code": 200,
        "body": {
            "choices": [{"finish_reason": "length", "index": 0, "message": {"content": "hi"}}],
            "created": 1790000000,
            "model": "m",
            "usage": {
                "prompt_tokens": 3,
                "completion_tokens": 2,
                "total_tokens": 5,
                "prompt_tokens_details": {"cached_tokens": 1},
                "unknown_future_key": [1, 2],
            },
        },
    },
}


def parse(
    path: Path, kind: str = "output", store_text: bool = False
) -> tuple[list, list, FileTally]:
    tally = FileTally()
    rows, quarantine = [], []
    for chunk in parse_file(
        path, batch_id="b", file_id="f", file_kind=kind, store_text=store_text, tally=tally
    ):
        rows += chunk.rows.to_pylist()
        quarantine += chunk.quarantine.to_pylist()
    return rows, quarantine, tally


def test_output_line_fields_and_usage_kept_whole(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_text(json.dumps(OUTPUT_LINE) + "\n")
    (row,), quarantine, tally = parse(path, store_text=True)
    assert quarantine == []
    assert (row["line_number"], row["result_id"], row["custom_id"]) == (1, "br_1", "req-1")
    assert (row["status_code"], row["model"], row["created"]) == (200, "m", 1790000000)
    assert row["finish_reason"] == "length"
    assert row["completion_text"] == "hi"
    assert json.loads(row["usage"]) == OUTPUT_LINE["response"]["body"]["usage"]
    assert (tally.lines_total, tally.lines_loaded) == (1, 1)


def test_both_error_shapes(tmp_path: Path) -> None:
    documented = {"custom_id": "a", "error": {"message": "Request timeout", "code": "timeout"}}
    openai_style = {
        "id": "br_2",
        "custom_id": "b",
        "response": {"status_code": 400, "body": {"error": {"message": "bad", "code": "x"}}},
    }
    no_code = {"custom_id": "c", "error": {"message": "boom"}}
    path = tmp_path / "err.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in (documented, openai_style, no_code)) + "\n")
    rows, _, _ = parse(path, kind="error")
    got = [(r["custom_id"], r["status_code"], r["error_code"], r["error_message"]) for r in rows]
    assert got == [
        ("a", None, "timeout", "Request timeout"),
        ("b", 400, "x", "bad"),
        ("c", None, None, "boom"),
    ]
    assert {r["file_kind"] for r in rows} == {"error"}


def test_bad_lines_are_quarantined_with_their_physical_line_numbers(tmp_path: Path) -> None:
    good = json.dumps(OUTPUT_LINE)
    lines = [
        good,  # 1
        "",  # 2 blank: skipped, still counted
        '{"id": "br_x", "custom_id": ',  # 3 truncated
        good + "\r",  # 4 CRLF
        " [1, 2]",  # 5 not an object
        '{"id": "br_3"}',  # 6 no custom_id
        "   ",  # 7 whitespace only: skipped
        "\t" + good,  # 8 leading whitespace is fine
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines))  # no trailing newline either
    rows, quarantine, tally = parse(path)
    assert [r["line_number"] for r in rows] == [1, 4, 8]
    assert [(q["line_number"], q["error"]) for q in quarantine] == [
        (3, "invalid JSON"),
        (5, "not a JSON object"),
        (6, "missing custom_id"),
    ]
    assert quarantine[0]["raw_text"] == lines[2]
    assert (tally.lines_total, tally.lines_loaded, tally.lines_quarantined) == (6, 3, 3)


def test_input_lines(tmp_path: Path) -> None:
    line = {
        "custom_id": "r1",
        "body": {"model": "m", "max_tokens": 64, "messages": [{"role": "user", "content": "é"}]},
        "metadata": {"team": "search", "priority": 2},
    }
    path = tmp_path / "in.jsonl"
    text = json.dumps(line, ensure_ascii=False)
    path.write_text(text + "\n", encoding="utf-8")
    (row,), _, _ = parse(path, kind="input")
    assert (row["custom_id"], row["model"], row["max_tokens"]) == ("r1", "m", 64)
    assert json.loads(row["metadata"]) == line["metadata"]
    assert row["request_bytes"] == len(text.encode())
    assert row["body"] is None  # prompts only on opt-in
    (opted,), _, _ = parse(path, kind="input", store_text=True)
    assert json.loads(opted["body"]) == line["body"]


@pytest.mark.parametrize("block", [7, 64, 1000])
def test_chunking_never_splits_or_renumbers_lines(tmp_path: Path, block: int) -> None:
    path = tmp_path / "many.jsonl"
    lines = [json.dumps({"custom_id": f"c{n}", "pad": "x" * (n % 97)}) for n in range(1, 501)]
    path.write_text("\n".join(lines) + "\n")
    seen = [row for chunk in iter_line_chunks(path, block) for row in chunk.to_pylist()]
    assert [r["line_number"] for r in seen] == list(range(1, 501))
    assert [r["raw"] for r in seen] == lines


def test_invalid_utf8_does_not_stop_the_load(tmp_path: Path) -> None:
    path = tmp_path / "bytes.jsonl"
    path.write_bytes(b'{"custom_id": "ok"}\n{"custom_id": "\xff"}\n')
    rows, quarantine, _ = parse(path)
    assert [r["line_number"] for r in rows] == [1, 2]
    assert quarantine == []


def test_a_malformed_line_deep_in_a_big_file_loses_and_doubles_nothing(tmp_path: Path) -> None:
    """The fast parse fails mid-stream; the careful one resumes after what was already yielded."""
    total, bad = 45_000, {30_001, 44_000}
    path = tmp_path / "big.jsonl"
    with path.open("w") as out:
        for n in range(1, total + 1):
            out.write('{"custom_id": "c' if n in bad else json.dumps({"custom_id": f"c{n}"}))
            out.write("\n")
    rows, quarantine, tally = parse(path)
    numbers = [r["line_number"] for r in rows]
    assert numbers == [n for n in range(1, total + 1) if n not in bad]
    assert [r["custom_id"] for r in rows] == [f"c{n}" for n in numbers]
    assert [(q["line_number"], q["error"]) for q in quarantine] == [
        (n, "invalid JSON") for n in sorted(bad)
    ]
    assert (tally.lines_total, tally.lines_loaded, tally.lines_quarantined) == (total, total - 2, 2)
