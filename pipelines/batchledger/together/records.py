"""Check the batch and file objects a server lists before anything else sees them.

A Together batch object is a flat record of known fields (wire contract §3.2, §3.4). A hostile
or broken server can send entries that are not objects, ids that are objects or paths, a
`progress` of "soon", or extra keys such as `ID` that dlt's name normalisation folds onto a
known column and so overwrite the real `id`. These pure functions keep only usable objects,
give known fields their expected types and return one line of warning per thing they dropped.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Together's ids are UUIDs (batches) and `file-<uuid>` (files); the v3 SDK checks file ids
# against `^[A-Za-z0-9][A-Za-z0-9._-]*$`. One path component, no dot-segments, bounded length.
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
MAX_EXTRA_KEYS = 32
MAX_KEY_CHARS = 64
MAX_TEXT_CHARS = 4096
# A file id is never a path here (see landing.py), so odd ones load under a hashed name; but
# one that is not even a short string is not an id.
MAX_FILE_ID_CHARS = 1024


def is_safe_id(value: object) -> bool:
    return isinstance(value, str) and ID_PATTERN.fullmatch(value) is not None


def show(value: object, limit: int = 60) -> str:
    """A value for a one-line warning: quoted, escaped, cut short."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


Check = Callable[[Any], tuple[Any, str | None]]  # value -> (clean value, problem or None)


def _text(value: Any) -> tuple[Any, str | None]:
    if isinstance(value, str) and len(value) <= MAX_TEXT_CHARS:
        return value, None
    return None, f"expected a short string, got {show(value)}"


def _message(value: Any) -> tuple[Any, str | None]:
    """A job's `error`: a string, though some servers send an object."""
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False)[:MAX_TEXT_CHARS]
    return _text(value)


def _file_id(value: Any) -> tuple[Any, str | None]:
    if isinstance(value, str) and value and len(value) <= MAX_FILE_ID_CHARS:
        return value, None
    return None, f"expected a file id, got {show(value)}"


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _float(value: Any) -> tuple[Any, str | None]:
    number = _number(value)
    return (number, None) if number is not None else (None, f"not a number: {show(value)}")


def _int(value: Any) -> tuple[Any, str | None]:
    number = _number(value)
    if number is not None and number.is_integer() and abs(number) < 2**63:
        return int(number), None
    return None, f"not a whole number: {show(value)}"


def _bool(value: Any) -> tuple[Any, str | None]:
    return (value, None) if isinstance(value, bool) else (None, f"not a boolean: {show(value)}")


def _timestamp(value: Any) -> tuple[Any, str | None]:
    if isinstance(value, str) and len(value) <= 64:
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return value, None
    return None, f"not an RFC 3339 time: {show(value)}"


# Known fields of a BatchJob and FileResponse, with their checks (`id` is checked apart).
BATCH_FIELDS: dict[str, Check] = {
    "user_id": _text,
    "input_file_id": _file_id,
    "file_size_bytes": _int,
    "status": _text,
    "job_deadline": _timestamp,
    "created_at": _timestamp,
    "endpoint": _text,
    "progress": _float,
    "model_id": _text,
    "output_file_id": _file_id,
    "error_file_id": _file_id,
    "error": _message,
    "completed_at": _timestamp,
}
FILE_FIELDS: dict[str, Check] = {
    "object": _text,
    "created_at": _int,
    "filename": _text,
    "bytes": _int,
    "purpose": _text,
    "FileType": _text,
    "Processed": _bool,
    "LineCount": _int,
    "processing_status": _text,
}
# Known fields of an endpoint in GET /v1/endpoints (together-py's EndpointListResponse.Data).
ENDPOINT_FIELDS: dict[str, Check] = {
    "object": _text,
    "name": _text,
    "model": _text,
    "type": _text,
    "owner": _text,
    "state": _text,
    "created_at": _timestamp,
}
# Columns the ingest adds itself.
ADDED_COLUMNS = ("observed_at",)


def folded(name: str) -> str:
    """Letters and digits only, lower case: dlt's normalisation never separates two names that
    this folds together (it changes only case and separators), so a key that folds onto a known
    column is one dlt could store in that column."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


@dataclass
class Cleaned:
    records: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


# Without these a batch cannot be placed in time or told finished from running: it is skipped
# (with a warning) until the API gives them, rather than loaded half known.
REQUIRED_BATCH_FIELDS = ("status", "created_at")


def clean_batches(entries: list[Any]) -> Cleaned:
    """Usable batch objects, in order, each id once; a warning per skipped batch or dropped
    value."""
    cleaned = _clean_all(entries, BATCH_FIELDS, "batch", safe_id=True)
    usable = []
    for record in cleaned.records:
        missing = [name for name in REQUIRED_BATCH_FIELDS if record.get(name) is None]
        if missing:
            cleaned.warnings.append(
                f"skipped batch {record['id']}: no usable {' or '.join(missing)}; "
                "it is read again next run"
            )
        else:
            usable.append(record)
    cleaned.records = usable
    return cleaned


def clean_files(entries: list[Any]) -> Cleaned:
    """Usable file objects; file ids need only be short strings (landing.py names the copy)."""
    return _clean_all(entries, FILE_FIELDS, "file", safe_id=False)


def clean_endpoints(entries: list[Any]) -> Cleaned:
    """Usable endpoint objects (ids like `endpoint-<uuid>`), each id once."""
    return _clean_all(entries, ENDPOINT_FIELDS, "endpoint", safe_id=True)


def _clean_all(
    entries: list[Any], fields: dict[str, Check], kind: str, *, safe_id: bool
) -> Cleaned:
    result = Cleaned()
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        record, warnings = clean_record(entry, fields, kind, safe_id=safe_id, index=index)
        result.warnings.extend(warnings)
        if record is None:
            continue
        if record["id"] in seen:
            result.warnings.append(f"skipped a second {kind} {record['id']} in the same list")
            continue
        seen.add(record["id"])
        result.records.append(record)
    return result


def clean_record(
    entry: Any, fields: dict[str, Check], kind: str, *, safe_id: bool, index: int | None = None
) -> tuple[dict[str, Any] | None, list[str]]:
    """One object: (clean record or None when unusable, warnings)."""
    where = f"entry {index} of the {kind} list" if index is not None else f"the {kind} answer"
    if not isinstance(entry, dict):
        return None, [f"skipped {where}: not a JSON object but {type(entry).__name__}"]
    raw_id = entry.get("id")
    usable = is_safe_id(raw_id) if safe_id else _file_id(raw_id)[1] is None
    if not usable:
        return None, [f"skipped {where}: its id {show(raw_id)} is not a valid {kind} id"]
    record: dict[str, Any] = {"id": raw_id}
    label = f"{kind} {show(raw_id) if not safe_id else raw_id}"
    problems: list[str] = []
    for name, check in fields.items():
        if name in entry and entry[name] is not None:
            value, problem = check(entry[name])
            record[name] = value
            if problem:
                problems.append(f"{name} {problem}, kept as null")
        elif name in entry:
            record[name] = None
    reserved = {folded(name) for name in (*fields, "id", *ADDED_COLUMNS)}
    dropped: list[str] = []
    extra = 0
    for key, value in entry.items():
        if key in fields or key == "id":
            continue
        fold = folded(key)
        if len(key) > MAX_KEY_CHARS or not fold or fold in reserved or fold.startswith("dlt"):
            dropped.append(key)
            continue
        if extra >= MAX_EXTRA_KEYS:
            dropped.append(key)
            continue
        reserved.add(fold)  # two extra keys that fold alike would share a column too
        record[key] = value
        extra += 1
    if dropped:
        names = ", ".join(show(k, 30) for k in dropped[:5])
        more = f" and {len(dropped) - 5} more" if len(dropped) > 5 else ""
        problems.append(f"ignored {len(dropped)} extra key(s) ({names}{more})")
    return record, [f"{label}: {p}" for p in problems]
