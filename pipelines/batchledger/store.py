"""The ops store beside each warehouse: submissions with their tags, and alert state.

One folder per warehouse file, `<db dir>/.ops/<db stem>/`, so the demo (data/demo.duckdb) and a
real warehouse (data/warehouse.duckdb) never share submissions, tags or alert state.

Plain files rather than DuckDB: the warehouse file is replaced atomically by every ingest, so
anything written into it would be lost. Every ingest loads these files into the warehouse instead
(the `batchledger_ops` dlt source, schema raw_batchledger), where dbt reads them.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from batchledger.invoices import InvoiceError, InvoiceFile
from batchledger.settings import Settings

SUBMISSIONS_FILE = "submissions.jsonl"
# Same columns as dbt_project/seeds/batch_tags.csv, so it can be appended or wired as a source.
TAGS_FILE = "batch_tags.csv"
TAG_COLUMNS = ("batch_id", "tag_key", "tag_value")
ALERTS_FILE = "alerts.json"
# Every imported invoice line, with the fingerprint of the file it came from.
INVOICE_LINES_FILE = "invoice_lines.csv"
INVOICE_LINE_COLUMNS = (
    "file_sha256",
    "file_name",
    "imported_at",
    "line_number",
    "invoice_month",
    "model",
    "description",
    "amount_usd",
    "currency",
)


def ops_dir(settings: Settings) -> Path:
    """The ops store of the warehouse `settings.db_path` points at."""
    return settings.db_path.parent / ".ops" / settings.db_path.stem


@dataclass(frozen=True)
class Submission:
    batch_id: str
    submitted_at: str
    file: str
    input_file_id: str
    model: str | None
    lines: int
    estimate_usd: str | None
    tags: dict[str, str] = field(default_factory=dict)
    parent_batch_id: str | None = None


def record_submission(settings: Settings, submission: Submission) -> None:
    folder = ops_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / SUBMISSIONS_FILE).open("a", encoding="utf-8") as out:
        out.write(json.dumps(asdict(submission), sort_keys=True) + "\n")
    tags_path = folder / TAGS_FILE
    new_file = not tags_path.exists()
    with tags_path.open("a", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        if new_file:
            writer.writerow(TAG_COLUMNS)
        for key, value in sorted(submission.tags.items()):
            writer.writerow([submission.batch_id, key, value])


def read_submissions(settings: Settings) -> list[Submission]:
    return submissions_in(ops_dir(settings))


def submissions_in(folder: Path) -> list[Submission]:
    """Every submission recorded in an ops store folder, in the order they were made."""
    path = folder / SUBMISSIONS_FILE
    if not path.exists():
        return []
    found: list[Submission] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            found.append(Submission(**json.loads(line)))
        except (json.JSONDecodeError, TypeError):
            continue  # a torn last line from a crash must not block every later command
    return found


def tags_in(folder: Path) -> list[dict[str, str]]:
    """Every (batch_id, tag_key, tag_value) row of the store's tag file; the last row per
    batch and key wins, so a tag recorded again replaces the earlier value."""
    path = folder / TAGS_FILE
    if not path.exists():
        return []
    latest: dict[tuple[str, str], dict[str, str]] = {}
    with path.open(newline="", encoding="utf-8") as lines:
        for row in csv.DictReader(lines):
            batch_id, key = row.get("batch_id"), row.get("tag_key")
            if batch_id and key:  # a torn last row carries no usable tag
                latest[(batch_id, key)] = {
                    "batch_id": batch_id,
                    "tag_key": key,
                    "tag_value": row.get("tag_value") or "",
                }
    return list(latest.values())


def find_submission(settings: Settings, batch_id: str) -> Submission | None:
    return next((s for s in read_submissions(settings) if s.batch_id == batch_id), None)


def read_json_state(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def write_json_state(path: Path, state: dict[str, Any]) -> None:
    """Write-then-rename: a crash mid-write never loses the record of alerts already sent."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(state, out, indent=2, sort_keys=True)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


@dataclass(frozen=True)
class InvoiceImport:
    """What `record_invoice` did: "imported", "replaced" or "unchanged" (the same file again)."""

    outcome: str
    months: tuple[str, ...]
    lines: int
    replaced_files: tuple[str, ...] = ()


def invoice_lines_in(folder: Path) -> list[dict[str, str]]:
    """Every stored invoice line, as written (amounts are exact decimal strings)."""
    path = folder / INVOICE_LINES_FILE
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as lines:
        return [dict(row) for row in csv.DictReader(lines)]


def record_invoice(
    settings: Settings, invoice: InvoiceFile, *, imported_at: str, replace: bool = False
) -> InvoiceImport:
    """Store an invoice's lines in the ops store, once per file and once per month.

    The same file (by its bytes' sha256) read into the same lines again changes nothing. The
    same file read into other lines (another column mapping) is refused (InvoiceError) unless
    `replace`: finance may have closed a month on the lines stored, so they change only when
    asked to. A file with a month that another file already brought is refused likewise;
    with `replace`, that month's earlier lines go, and so do the earlier lines of this very
    file. The store is rewritten whole and renamed into place, so a crash never leaves half
    an invoice."""
    folder = ops_dir(settings)
    stored = invoice_lines_in(folder)
    months = tuple(sorted(invoice.months))
    new_rows = [
        {
            "file_sha256": invoice.sha256,
            "file_name": invoice.name,
            "imported_at": imported_at,
            "line_number": str(line.line_number),
            "invoice_month": line.invoice_month,
            "model": line.model or "",
            "description": line.description or "",
            "amount_usd": format(line.amount_usd, "f"),
            "currency": line.currency,
        }
        for line in invoice.lines
    ]
    same_file = [row for row in stored if row["file_sha256"] == invoice.sha256]
    if same_file and not replace:
        if _invoice_contents(same_file) == _invoice_contents(new_rows):
            return InvoiceImport("unchanged", months, len(invoice.lines))
        raise InvoiceError(
            f"{invoice.name} is already imported (the same file, imported "
            f"{same_file[0]['imported_at']}) with another column mapping: read with this one, "
            "its lines differ from those stored. Nothing imported: pass --replace to import it "
            "with this mapping (its lines then replace the earlier ones)"
        )
    taken = {
        row["invoice_month"]: row["file_name"]
        for row in stored
        if row["invoice_month"] in invoice.months and row["file_sha256"] != invoice.sha256
    }
    if taken and not replace:
        raise InvoiceError(
            f"{invoice.name}: "
            + "; ".join(
                f"{month} was already imported from {name}" for month, name in sorted(taken.items())
            )
            + ". Nothing imported: pass --replace to replace those months"
        )
    kept = [
        row
        for row in stored
        if row["invoice_month"] not in invoice.months and row["file_sha256"] != invoice.sha256
    ]
    replaced = tuple(sorted({row["file_name"] for row in stored if row not in kept}))
    _write_csv(folder / INVOICE_LINES_FILE, INVOICE_LINE_COLUMNS, [*kept, *new_rows])
    outcome = "replaced" if replaced else "imported"
    return InvoiceImport(outcome, months, len(invoice.lines), replaced)


def _invoice_contents(rows: list[dict[str, str]]) -> Counter[tuple[Any, ...]]:
    """What a file's stored lines say, whatever line each came from: the same bytes give the
    same line numbers under any mapping, so only a mapping changes these."""
    return Counter(
        (
            row["invoice_month"],
            row["model"],
            row["description"],
            Decimal(row["amount_usd"]),
            row["currency"],
        )
        for row in rows
    )


def _write_csv(path: Path, columns: tuple[str, ...], rows: list[dict[str, str]]) -> None:
    """Write-then-rename, like write_json_state."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


def restore_store(path: Path, before: bytes | None) -> None:
    """Put a store file back as it was (`before`: its bytes, or None when it did not exist),
    written beside it and renamed into place like every store write."""
    if before is None:
        path.unlink(missing_ok=True)
        return
    staging = path.with_name(f".{path.name}.restore")
    staging.write_bytes(before)
    os.replace(staging, path)
