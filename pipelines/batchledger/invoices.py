"""Read an invoice CSV into invoice lines: the generic layout, or any layout with a mapping.

The generic layout has one header row and the columns

    month, description, model, amount_usd, currency

`month` is the billing month (`2026-11` or any date in it, `2026-11-30`), `amount_usd` a plain
decimal (`12.34`; `$1,234.50` and `(1.20)` for a credit are read too), `currency` is `USD` (the
column may be left out). A line names its `model` (a model line, reconciled per model) or only
a `description` (tax, support, a month total): it needs one of the two. Another layout, such
as a billing console export, is read with a mapping from these names to its own headers, e.g.
`{"month": "Billing Period", "amount_usd": "Cost", "description": "Item"}`.

Every figure stays a string until `Decimal`: no amount goes through a float. A file with any bad
line is refused whole, every problem named by line.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

INVOICE_FIELDS: tuple[str, ...] = ("month", "description", "model", "amount_usd", "currency")
REQUIRED_FIELDS: tuple[str, ...] = ("month", "amount_usd")
CURRENCY = "USD"
# The money macros take USD amounts below 1e14 (picodollars in a HUGEINT), per line and per
# month: a larger figure would fail the build, so it is refused here.
MAX_ABS_AMOUNT = Decimal(10) ** 14
# An invoice CSV is a few kilobytes; anything past this is not one (and is not read whole).
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_SCALE = 18
MAX_PROBLEMS_SHOWN = 50

# ASCII digits only: \d would also take Arabic-Indic or full-width digits.
_MONTH = re.compile(r"^([0-9]{4})-([0-9]{2})(?:-([0-9]{2}))?$")
_PLAIN = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")
_THOUSANDS = re.compile(r"^-?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?$")


class InvoiceError(ValueError):
    """The invoice file (or the mapping) cannot be read; nothing was imported."""


@dataclass(frozen=True)
class InvoiceLine:
    line_number: int  # the line of the CSV file (the header is line 1)
    invoice_month: str  # YYYY-MM
    model: str | None
    description: str | None
    amount_usd: Decimal
    currency: str


@dataclass(frozen=True)
class InvoiceFile:
    name: str
    sha256: str  # of the file's bytes: the same file imported twice is recognised
    lines: tuple[InvoiceLine, ...]

    @property
    def months(self) -> frozenset[str]:
        return frozenset(line.invoice_month for line in self.lines)


def parse_mapping(pairs: list[str]) -> dict[str, str]:
    """`field=Header` pairs (from `--mapping`) as {field: header}."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        field, sep, header = pair.partition("=")
        field = field.strip()
        if not sep or not header.strip():
            raise InvoiceError(f"--mapping expects field=Header, got {pair!r}")
        if field not in INVOICE_FIELDS:
            raise InvoiceError(
                f"--mapping: unknown field {field!r}; the fields are {', '.join(INVOICE_FIELDS)}"
            )
        if field in mapping:
            raise InvoiceError(f"--mapping: {field!r} is mapped twice")
        mapping[field] = header.strip()
    return mapping


def parse_month(text: str) -> str:
    """`YYYY-MM` or a date `YYYY-MM-DD` as its month `YYYY-MM`; ValueError otherwise."""
    match = _MONTH.match(text.strip())
    if not match:
        raise ValueError(f"month {text!r} is not YYYY-MM or YYYY-MM-DD")
    year, month, day = int(match[1]), int(match[2]), int(match[3] or 1)
    try:
        date(year, month, day)
    except ValueError:
        raise ValueError(f"month {text!r} is not a date in the calendar") from None
    return f"{year:04d}-{month:02d}"


def parse_amount(text: str) -> Decimal:
    """A USD amount as written in a CSV, exactly; ValueError for anything else."""
    cleaned = text.strip()
    negative = cleaned.startswith("(") and cleaned.endswith(")")
    if negative:
        cleaned = cleaned[1:-1].strip()
        if cleaned.startswith(("-", "+", "(")):
            # "(-5)" is no accounting notation: a credit must not turn into a charge.
            raise ValueError(f"amount {text!r} has a sign inside its parentheses")
    if cleaned.startswith("-$"):
        cleaned = "-" + cleaned[2:]
    cleaned = cleaned.removeprefix("$").strip()
    if _THOUSANDS.match(cleaned):
        cleaned = cleaned.replace(",", "")
    if not _PLAIN.match(cleaned):
        raise ValueError(f"amount {text!r} is not a decimal number such as 1234.50")
    try:
        amount = Decimal(cleaned)
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only decimals
        raise ValueError(f"amount {text!r} is not a decimal number") from exc
    if negative:
        amount = -amount
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > MAX_SCALE:
        raise ValueError(f"amount {text!r} has more than {MAX_SCALE} decimal places")
    if abs(amount) >= MAX_ABS_AMOUNT:
        raise ValueError(f"amount {text!r} is too large")
    return amount


def _columns(header: list[str], mapping: dict[str, str], name: str) -> dict[str, int]:
    """Column index of each field the file has, after the mapping."""
    stripped = [column.strip() for column in header]
    duplicates = sorted({column for column in stripped if stripped.count(column) > 1})
    if duplicates:
        raise InvoiceError(f"{name}: line 1: header repeats {', '.join(duplicates)}")
    columns: dict[str, int] = {}
    for field in INVOICE_FIELDS:
        wanted = mapping.get(field, field)
        if wanted in stripped:
            columns[field] = stripped.index(wanted)
        elif field in mapping:
            raise InvoiceError(
                f"{name}: line 1: no column {wanted!r} (mapped to {field}); "
                f"the header is {', '.join(stripped)}"
            )
    missing = [field for field in REQUIRED_FIELDS if field not in columns]
    if "description" not in columns and "model" not in columns:
        missing.append("description or model")
    if missing:
        raise InvoiceError(
            f"{name}: line 1: no {' and no '.join(missing)} column; the header is "
            f"{', '.join(stripped)} (use --mapping field=Header for another layout)"
        )
    return columns


def _line(number: int, row: list[str], columns: dict[str, int]) -> InvoiceLine:
    def value(field: str) -> str | None:
        index = columns.get(field)
        if index is None or index >= len(row):
            return None
        return row[index].strip() or None

    month, amount = value("month"), value("amount_usd")
    if month is None:
        raise ValueError("month is empty")
    if amount is None:
        raise ValueError("amount_usd is empty")
    model, description = value("model"), value("description")
    if model is None and description is None:
        raise ValueError("the line names neither a model nor a description")
    currency = CURRENCY
    if "currency" in columns:
        currency = (value("currency") or "").upper()
        if currency != CURRENCY:
            raise ValueError(f"currency is {currency or 'empty'!r}; only {CURRENCY} is reconciled")
    return InvoiceLine(
        line_number=number,
        invoice_month=parse_month(month),
        model=model,
        description=description,
        amount_usd=parse_amount(amount),
        currency=currency,
    )


def read_invoice(path: Path, mapping: dict[str, str] | None = None) -> InvoiceFile:
    """Every line of an invoice CSV, or InvoiceError naming the file and each bad line."""
    name = path.name
    try:
        if path.exists() and not path.is_file():
            # A FIFO would block the read forever, a device could be endless.
            raise InvoiceError(f"{path}: not a regular file")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise InvoiceError(f"{path}: larger than {MAX_FILE_BYTES // 2**20} MB; not an invoice")
        data = path.read_bytes()
    except OSError as exc:
        raise InvoiceError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    try:
        text = data.decode("utf-8-sig")  # a spreadsheet's byte-order mark is not a header
    except UnicodeDecodeError as exc:
        raise InvoiceError(f"{name}: not UTF-8 text (byte {exc.start})") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    # A record starts on the line after the previous one ends: a quoted cell may span lines,
    # and reader.line_num is the record's last line, not the first one an editor shows.
    start = 1
    try:
        header = next(reader, None)
        if header is None:
            raise InvoiceError(f"{name}: the file is empty")
        columns = _columns(header, mapping or {}, name)
        lines: list[InvoiceLine] = []
        problems: list[str] = []
        start = reader.line_num + 1
        for row in reader:
            number, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in row):
                continue
            if len(row) > len(header):
                problems.append(
                    f"{name}: line {number}: {len(row)} fields, the header has {len(header)}"
                )
                continue
            try:
                lines.append(_line(number, row, columns))
            except ValueError as exc:
                problems.append(f"{name}: line {number}: {exc}")
    except csv.Error as exc:
        raise InvoiceError(f"{name}: line {start}: not valid CSV ({exc})") from None
    if problems:
        shown = problems[:MAX_PROBLEMS_SHOWN]
        if len(problems) > len(shown):
            shown.append(f"... and {len(problems) - len(shown)} more")
        raise InvoiceError(f"{len(problems)} bad line(s), nothing imported:\n" + "\n".join(shown))
    if not lines:
        raise InvoiceError(f"{name}: no invoice lines below the header")
    totals: dict[str, Decimal] = {}
    for line in lines:
        totals[line.invoice_month] = totals.get(line.invoice_month, Decimal(0)) + abs(
            line.amount_usd
        )
    too_large = sorted(month for month, total in totals.items() if total >= MAX_ABS_AMOUNT)
    if too_large:
        raise InvoiceError(
            f"{name}: the lines of {', '.join(too_large)} add up to 1e14 USD or more; "
            "nothing imported"
        )
    return InvoiceFile(name=name, sha256=hashlib.sha256(data).hexdigest(), lines=tuple(lines))
