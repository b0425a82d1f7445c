"""Check a batch input JSONL before anything is uploaded, reporting every problem by line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Together's documented limits for one batch input file.
MAX_LINES = 50_000
MAX_BYTES = 100 * 1024 * 1024
MAX_CUSTOM_ID_CHARS = 64
# No request line is anywhere near this; a longer one is reported, never held in memory.
MAX_LINE_BYTES = 16 * 1024 * 1024
CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class Problem:
    line: int | None  # None: the problem is the file as a whole
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


@dataclass
class Request:
    line: int
    custom_id: str
    body: dict[str, Any]
    # Other top-level fields of the line (e.g. `metadata`, which cohorts read): kept as sent.
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def model(self) -> str:
        return str(self.body["model"])


@dataclass
class Checked:
    requests: list[Request] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # True when --model / --max-tokens filled in a body, so the file sent must be rewritten.
    rewritten: bool = False


def check_file(path: Path, *, model: str | None = None, max_tokens: int | None = None) -> Checked:
    """Parse and validate; `model` and `max_tokens` fill bodies that lack them.

    The file is streamed: one line at a time, each at most MAX_LINE_BYTES, so a huge file or a
    huge line never sits whole in memory (a file over the size limit is only counted).
    """
    checked = Checked()
    size = path.stat().st_size
    if size > MAX_BYTES:
        # It cannot be sent anyway: count its lines for the report, keep none of them.
        checked.problems.append(Problem(None, f"file is {size} bytes; the limit is {MAX_BYTES}"))
        count = _count_lines(path)
    else:
        count = _check_lines(path, checked, model, max_tokens)
    if count > MAX_LINES:
        checked.problems.append(Problem(None, f"file has {count} lines; the limit is {MAX_LINES}"))
    if count == 0:
        checked.problems.append(Problem(None, "file is empty"))
    return checked


def _check_lines(path: Path, checked: Checked, model: str | None, max_tokens: int | None) -> int:
    seen: dict[str, int] = {}
    count = 0
    for number, raw in enumerate(_lines(path), start=1):
        count = number
        if raw is None:
            problem: str | None = f"line is longer than {MAX_LINE_BYTES} bytes"
        else:
            problem = _check_line(number, raw, seen, checked, model, max_tokens)
        if problem:
            checked.problems.append(Problem(number, problem))
    return count


def _count_lines(path: Path) -> int:
    count = 0
    last = b"\n"
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK_BYTES):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (last != b"\n")


def _lines(path: Path) -> Iterator[str | None]:
    """Each line as text, or None for a line too long to hold (skipped without keeping it)."""
    with path.open("rb") as fh:
        while line := fh.readline(MAX_LINE_BYTES + 1):
            if len(line) <= MAX_LINE_BYTES or line.endswith(b"\n"):
                yield line.decode("utf-8", errors="replace")
                continue
            while (rest := fh.readline(CHUNK_BYTES)) and not rest.endswith(b"\n"):
                pass
            yield None


def _check_line(
    number: int,
    raw: str,
    seen: dict[str, int],
    checked: Checked,
    model: str | None,
    max_tokens: int | None,
) -> str | None:
    if not raw.strip():
        return "empty line"
    try:
        record = json.loads(raw)
    except json.JSONDecodeError as exc:
        return f"not valid JSON ({exc.msg})"
    if not isinstance(record, dict):
        return "not a JSON object"
    custom_id = record.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id:
        return "custom_id is missing or not a string"
    if len(custom_id) > MAX_CUSTOM_ID_CHARS:
        return f"custom_id has {len(custom_id)} characters; the limit is {MAX_CUSTOM_ID_CHARS}"
    if custom_id in seen:
        return f"custom_id {custom_id!r} duplicates line {seen[custom_id]}"
    seen[custom_id] = number
    body = record.get("body")
    if not isinstance(body, dict):
        return "body is missing or not a JSON object"
    if not body.get("model"):
        if not model:
            return "no model: set body.model or pass --model"
        body["model"] = model
        checked.rewritten = True
    if max_tokens is not None and body.get("max_tokens") is None:
        body["max_tokens"] = max_tokens
        checked.rewritten = True
    extra = {k: v for k, v in record.items() if k not in ("custom_id", "body")}
    checked.requests.append(Request(number, custom_id, body, extra))
    return None


def write_requests(requests: list[Request], dest: Path) -> None:
    with dest.open("w", encoding="utf-8") as out:
        for request in requests:
            line = {"custom_id": request.custom_id, "body": request.body, **request.extra}
            out.write(json.dumps(line) + "\n")
