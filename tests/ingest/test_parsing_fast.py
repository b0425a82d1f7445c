"""The read_json fast path and grouped parsing give exactly what the careful path gives."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from batchledger.bench import write_output_file
from batchledger.sources.together_batches import helpers
from batchledger.sources.together_batches.helpers import (
    FileTally,
    LandedFile,
    count_lines,
    group_files,
    parse_files,
)

ODD_RESULTS = [
    {"id": "br_1", "custom_id": 7, "response": {"status_code": "200", "body": {"created": 1.7e9}}},
    {"custom_id": "b", "response": {"body": {"usage": '{"prompt_tokens": 1}', "created": "17"}}},
    {"custom_id": "c", "response": {"body": {"usage": {"prompt_tokens": 2}, "choices": []}}},
    {"custom_id": "d", "response": {"body": {"choices": [{"finish_reason": None}, {}]}}},
    {"custom_id": "e", "error": "plain string", "response": None},
    {"custom_id": "f", "response": {"body": {"choices": [{"finish_reason": {"x": 1.50}}]}}},
    {"custom_id": "g", "response": {"body": {"choices": [{"message": {"content": "hé"}}]}}},
    {"custom_id": True, "response": {"status_code": 4.0e2, "body": {"error": {"code": 5}}}},
]
ODD_INPUTS = [
    {"custom_id": "a", "body": {"model": "m", "max_tokens": "64", "messages": []}},
    {"custom_id": 1.5, "body": {"model": 3, "max_tokens": 2.0}, "metadata": "not an object"},
    {"custom_id": "c", "metadata": {"k": [1, {"v": None}]}, "extra": "é"},
]


def jsonl(path: Path, lines: list[object]) -> Path:
    path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines))
    return path


def landed(path: Path, kind: str = "output", file_id: str | None = None) -> LandedFile:
    return LandedFile(path=path, batch_id="b", file_id=file_id or path.stem, file_kind=kind)


def run(
    files: list[LandedFile], store_text: bool = False
) -> tuple[pa.Table, pa.Table, dict[str, FileTally]]:
    tallies: dict[str, FileTally] = {}
    chunks = list(parse_files(files, store_text=store_text, tallies=tallies))
    if not chunks:  # empty files
        empty = pa.table({"file_id": pa.array([], pa.string())})
        return empty, empty, tallies
    rows = pa.concat_tables([c.rows for c in chunks])
    return rows, pa.concat_tables([c.quarantine for c in chunks]), tallies


def careful(
    files: list[LandedFile], monkeypatch: pytest.MonkeyPatch, store_text: bool = False
) -> tuple[pa.Table, pa.Table, dict[str, FileTally]]:
    """The same parse with the fast path vouching for no file."""
    with monkeypatch.context() as patch:
        patch.setattr(helpers, "one_row_per_line", lambda path: None)
        return run(files, store_text)


def by_line(table: pa.Table) -> list[dict[str, object]]:
    return sorted(table.to_pylist(), key=lambda r: (r["file_id"], r["line_number"]))


def assert_same(fast: tuple, slow: tuple) -> None:
    assert fast[0].schema == slow[0].schema
    assert fast[1].schema == slow[1].schema
    assert by_line(fast[0]) == by_line(slow[0])
    assert by_line(fast[1]) == by_line(slow[1])
    assert fast[2] == slow[2]


@pytest.mark.parametrize("store_text", [False, True])
def test_fast_path_equals_careful_path_on_odd_but_valid_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_text: bool
) -> None:
    files = [landed(jsonl(tmp_path / "odd.jsonl", ODD_RESULTS))]
    with monkeypatch.context() as patch:
        patch.setattr(helpers, "_parse_careful", None)  # the fast path takes every line
        fast = run(files, store_text)
    assert fast[0].num_rows == len(ODD_RESULTS)
    assert_same(fast, careful(files, monkeypatch, store_text))
    first = fast[0].to_pylist()[0]
    assert (first["custom_id"], first["status_code"], first["created"]) == ("7", 200, 1700000000)


def test_fast_path_equals_careful_path_on_input_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "in.jsonl"
    # A BOM, CRLF endings and a last line without a newline change request_bytes if miscounted.
    text = "\r\n".join(json.dumps(x, ensure_ascii=False) for x in ODD_INPUTS)
    path.write_bytes(helpers.BOM + text.encode())
    files = [landed(path, "input")]
    with monkeypatch.context() as patch:
        patch.setattr(helpers, "_parse_careful", None)  # the fast path takes every line
        fast = run(files)
    assert [r["request_bytes"] for r in fast[0].to_pylist()] == [
        len(json.dumps(x, ensure_ascii=False).encode()) for x in ODD_INPUTS
    ]
    assert_same(fast, careful(files, monkeypatch))


def test_fast_path_equals_careful_path_on_a_clean_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "clean.jsonl"
    write_output_file(path, 2_500)
    files = [landed(path)]
    fast = run(files)
    assert fast[0].column("custom_id").to_pylist() == [f"req-{n}" for n in range(2_500)]
    assert fast[0].column("line_number").to_pylist() == list(range(1, 2_501))
    assert_same(fast, careful(files, monkeypatch))


def test_awkward_lines_keep_exact_line_numbers(tmp_path: Path) -> None:
    good = json.dumps({"custom_id": "x", "response": {"status_code": 200}})
    long = json.dumps({"custom_id": "long", "pad": "y" * (helpers.CHUNK_BYTES + 10)})
    path = tmp_path / "awkward.jsonl"
    path.write_bytes(
        helpers.BOM
        + b"\r\n".join(
            [
                good.encode(),  # 1 BOM before it
                b"",  # 2 blank
                long.encode(),  # 3 longer than a read block
                b'{"custom_id": "\xff"}',  # 4 invalid UTF-8
                b"null",  # 5 not an object
                b'{"id": "br"}',  # 6 no custom_id
                b'{"custom_id": ',  # 7 truncated
                good.encode(),  # 8 no newline after it
            ]
        )
    )
    rows, quarantine, tallies = run([landed(path)])
    assert rows.column("line_number").to_pylist() == [1, 3, 4, 8]
    assert rows.column("custom_id").to_pylist() == ["x", "long", "\ufffd", "x"]
    assert [(q["line_number"], q["error"], q["raw_text"]) for q in quarantine.to_pylist()] == [
        (5, "not a JSON object", "null"),
        (6, "missing custom_id", '{"id": "br"}'),
        (7, "invalid JSON", '{"custom_id": '),
    ]
    tally = tallies["awkward"]
    assert (tally.lines_total, tally.lines_loaded, tally.lines_quarantined) == (7, 4, 3)
    assert count_lines(path) == 8


def test_a_row_without_custom_id_hands_the_rest_of_the_file_to_the_careful_path(
    tmp_path: Path,
) -> None:
    lines: list[object] = [{"custom_id": f"c{n}"} for n in range(1, 30_001)]
    lines[25_000 - 1] = {"id": "no custom id"}
    lines[26_000 - 1] = {"custom_id": ""}
    rows, quarantine, tallies = run([landed(jsonl(tmp_path / "f.jsonl", lines))])
    numbers = rows.column("line_number").to_pylist()
    assert numbers == [n for n in range(1, 30_001) if n not in (25_000, 26_000)]
    assert rows.column("custom_id").to_pylist() == [f"c{n}" for n in numbers]
    assert [q["line_number"] for q in quarantine.to_pylist()] == [25_000, 26_000]
    assert tallies["f"].quarantine_errors == {"missing custom_id": 2}


def test_grouped_parse_equals_per_file_parse(tmp_path: Path) -> None:
    files = []
    for n in range(40):
        path = tmp_path / f"out{n:02d}.jsonl"
        write_output_file(path, n % 7)  # empty files too
        files.append(landed(path, "error" if n % 5 == 0 else "output"))
    bad = tmp_path / "out17b.jsonl"
    write_output_file(bad, 5)
    bad.write_text(bad.read_text() + "{oops\n\n" + json.dumps({"custom_id": "late"}) + "\n")
    files.insert(18, landed(bad))
    grouped = run(files)
    singles = [run([f]) for f in files]
    # Files are in name order, so the singles' rows concatenated are in by_line order.
    assert by_line(grouped[0]) == [r for s in singles for r in by_line(s[0])]
    assert by_line(grouped[1]) == [r for s in singles for r in by_line(s[1])]
    assert grouped[2] == {k: v for s in singles for k, v in s[2].items()}
    assert grouped[2]["out17b"] == FileTally(7, 6, 1, {"invalid JSON": 1})
    assert grouped[2]["out13"] == FileTally(6, 6, 0, {})
    assert {r["file_kind"] for r in grouped[0].to_pylist() if r["file_id"] == "out05"} == {"error"}


def test_a_file_that_fails_mid_group_does_not_disturb_the_others(tmp_path: Path) -> None:
    files = []
    for n in range(6):
        lines: list[object] = [{"custom_id": f"f{n}-{i}"} for i in range(1, 4)]
        if n == 2:
            # Parses as JSON but not into read_json's columns: raises mid-query.
            lines[1] = {"custom_id": "f2-2", "response": {"body": {"choices": {"a": 1}}}}
        files.append(landed(jsonl(tmp_path / f"g{n}.jsonl", lines)))
    rows, quarantine, tallies = run(files)
    got = sorted((r["file_id"], r["line_number"], r["custom_id"]) for r in rows.to_pylist())
    assert got == [(f"g{n}", i, f"f{n}-{i}") for n in range(6) for i in range(1, 4)]
    assert quarantine.num_rows == 0
    assert all(t == FileTally(3, 3, 0, {}) for t in tallies.values())


def test_files_are_grouped_by_family_size_and_count(tmp_path: Path) -> None:
    def made(name: str, kind: str, size: int) -> LandedFile:
        (tmp_path / name).write_bytes(b"x" * size)
        return landed(tmp_path / name, kind)

    files = [
        made("i1", "input", 10),
        made("o1", "output", 10),
        made("e1", "error", 10),
        made("big", "output", 100),
        made("o2", "output", 10),
        made("i2", "input", 10),
        made("o3", "output", 10),
    ]
    groups = group_files(files, max_bytes=50, max_files=2)
    assert [[f.file_id for f in g] for g in groups] == [
        ["i1", "i2"],
        ["o1", "e1"],
        ["big"],
        ["o2", "o3"],
    ]


def test_mixing_input_and_result_files_is_refused(tmp_path: Path) -> None:
    files = [landed(tmp_path / "a", "input"), landed(tmp_path / "b", "output")]
    with pytest.raises(ValueError, match="not both"):
        list(parse_files(files, store_text=False, tallies={}))


def blank_line_reference(data: bytes) -> int | None:
    """one_row_per_line the slow way: split every line."""
    if data.startswith(helpers.BOM):
        data = data[len(helpers.BOM) :]
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()  # the newline ends the last line; it does not start another
    if any(line.strip(b" \t\r\x0b\x0c") == b"" for line in lines):
        return None
    return len(lines)


@pytest.mark.parametrize("seed", range(6))
def test_one_row_per_line_matches_a_line_split_and_read_json(tmp_path: Path, seed: int) -> None:
    import random

    import duckdb

    rng = random.Random(seed)
    pieces = [b'{"custom_id": "a"}', b"  {}", b"\t{}", b"\r", b"", b" ", b"\x0b\x0c", b"{}\r"]
    path = tmp_path / "f.jsonl"
    con = duckdb.connect()
    for _ in range(150):
        # Mostly good lines, so that blank ones come at every position, one at a time too.
        lines = [
            rng.choice(pieces) if rng.random() < 0.15 else b"{}" for _ in range(rng.randint(0, 9))
        ]
        data = (helpers.BOM if rng.random() < 0.2 else b"") + b"\n".join(lines)
        data += b"\n" if rng.random() < 0.5 else b""
        path.write_bytes(data)
        expected = blank_line_reference(data)
        for block in (1, 2, 3, 5, 64):
            assert helpers.one_row_per_line(path, block) == expected, (data, block)
        rows = con.execute(
            "select count(*) from read_json(?, format = 'newline_delimited', "
            "columns = {'custom_id': 'VARCHAR'})",
            [str(path)],
        ).fetchone()
        if expected is not None:
            assert rows == (expected,), data
        else:
            assert rows is not None and rows[0] < count_lines(path), data


def test_a_bom_alone_or_an_empty_file_has_no_lines(tmp_path: Path) -> None:
    for name, data in (("empty", b""), ("bom", helpers.BOM), ("bom_nl", helpers.BOM + b"\n")):
        path = tmp_path / name
        path.write_bytes(data)
        assert helpers.one_row_per_line(path) == (None if name == "bom_nl" else 0)


GOOD = json.dumps({"custom_id": "x", "response": {"status_code": 200}}).encode()


@pytest.mark.parametrize(
    ("lines", "loaded", "quarantined"),
    [
        ([GOOD, b"", GOOD], [1, 3], []),  # a blank line in the middle
        ([GOOD, b"   ", GOOD], [1, 3], []),  # a line of spaces
        ([b"", GOOD, GOOD], [2, 3], []),  # a leading blank line
        ([GOOD + b"\r", b"\r", GOOD + b"\r"], [1, 3], []),  # a CRLF blank line
        ([GOOD, GOOD, b"  "], [1, 2], []),  # spaces on a last line without a newline
        # read_json skips these too; the careful path quarantines them, and it decides.
        ([GOOD, b" \t ", GOOD], [1, 3], [2]),
        ([GOOD, b"\x0b\x0c", b'{"custom_id": "\xff"}', GOOD], [1, 3, 4], [2]),
        # A UTF-8 lead byte just before the newline does not hide the blank line after it.
        ([b'{"custom_id": "\xe2', b"", GOOD], [3], [1]),
    ],
    ids=["middle", "spaces", "leading", "crlf", "last", "tab", "vt-ff-not-utf8", "lead-byte"],
)
def test_files_with_blank_lines_keep_exact_line_numbers(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    lines: list[bytes],
    loaded: list[int],
    quarantined: list[int],
) -> None:
    path = tmp_path / "blank.jsonl"
    path.write_bytes(b"\n".join(lines))
    assert helpers.one_row_per_line(path) is None  # read_json would skip the blank line
    rows, quarantine, tallies = result = run([landed(path)])
    assert rows.column("line_number").to_pylist() == loaded
    assert [(q["line_number"], q["error"]) for q in quarantine.to_pylist()] == [
        (n, "invalid JSON") for n in quarantined
    ]
    assert tallies["blank"].lines_total == len(loaded) + len(quarantined)
    assert_same(result, careful([landed(path)], monkeypatch))


def test_lines_that_start_with_whitespace_stay_on_the_fast_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "indented.jsonl"
    path.write_bytes(b"\r\n".join([b" " + GOOD, b"\t" + GOOD, b"\r" + GOOD, GOOD]) + b"\r\n")
    assert helpers.one_row_per_line(path) == 4
    with monkeypatch.context() as patch:
        patch.setattr(helpers, "_parse_careful", None)  # the fast path takes every line
        fast = run([landed(path)])
    assert fast[0].column("line_number").to_pylist() == [1, 2, 3, 4]
    assert_same(fast, careful([landed(path)], monkeypatch))


def test_a_malformed_line_stops_the_fast_path_mid_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "broken.jsonl"
    lines = [json.dumps({"custom_id": f"c{n}"}).encode() for n in range(1, 30_001)]
    lines[25_000 - 1] = b'{"custom_id":'  # an object split over two lines
    lines[25_001 - 1] = b'"c25001"}'
    path.write_bytes(b"\n".join(lines) + b"\n")
    assert helpers.one_row_per_line(path) == 30_000
    rows, quarantine, _ = result = run([landed(path)])
    assert rows.column("line_number").to_pylist() == [
        n for n in range(1, 30_001) if n not in (25_000, 25_001)
    ]
    assert [(q["line_number"], q["error"]) for q in quarantine.to_pylist()] == [
        (25_000, "invalid JSON"),
        (25_001, "invalid JSON"),
    ]
    assert_same(result, careful([landed(path)], monkeypatch))


@pytest.mark.parametrize("miscount", [-1, 1])
def test_rows_out_of_step_with_the_line_count_stop_the_parse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, miscount: int
) -> None:
    """If read_json ever gave a file more or fewer rows than the scan counted lines, rows could
    carry wrong line numbers: the parse raises. Too many rows are caught before any is labelled;
    too few only once the file's rows end, and those rows are still held back to be joined
    with the next file's, so no row of the file reaches the load either way."""
    path = tmp_path / "f.jsonl"
    write_output_file(path, 50)
    monkeypatch.setattr(helpers, "one_row_per_line", lambda path: 50 + miscount)
    tallies: dict[str, FileTally] = {}
    yielded = []
    with pytest.raises(RuntimeError, match="out of step"):
        for chunk in parse_files([landed(path)], store_text=False, tallies=tallies):
            yielded.append(chunk)
    labelled = sum(chunk.rows.num_rows for chunk in yielded)
    assert labelled == 0
