"""`batchledger export focus`: marts.focus_charges as a FOCUS 1.2 file for FinOps tools.

The rows come whole from the published warehouse (read-only): the dbt mart decides every
value, this module only writes them out. FOCUS costs may not be null, so usage with no price
is not in the file; it is counted, and listed in a companion CSV beside it
(`<name>.unpriced.csv`), never given $0. A file is written under a temporary name and renamed
into place, so a reader never sees half of one.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Literal

import duckdb

from batchledger.paths import PROJECT_ROOT

Format = Literal["parquet", "csv"]
FORMATS: tuple[Format, ...] = ("parquet", "csv")
FOCUS_VERSION = "1.2"

# FOCUS DateTime columns: UTC, written as such (TIMESTAMP WITH TIME ZONE in Parquet,
# ISO 8601 with a Z in CSV).
DATETIME_COLUMNS = (
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargePeriodEnd",
    "ChargePeriodStart",
)

UNPRICED_QUERY = """
    select
        charges.usage_date,
        charges.batch_id,
        charges.provider,
        charges.model,
        case when cardinality(charges.cohort) > 0 then cast(to_json(charges.cohort) as varchar)
        end as tags,
        sum(charges.items_total) as items,
        sum(charges.input_tokens) as input_tokens,
        sum(charges.cached_input_tokens) as cached_input_tokens,
        sum(charges.output_tokens) as output_tokens,
        sum(charges.total_tokens) as total_tokens
    from marts.fct_batch_day_charges as charges
    where not charges.is_priced and ($month is null or charges.usage_month = $month)
    group by all
    order by all
"""


@dataclass(frozen=True)
class FocusExport:
    path: Path
    rows: int
    billed_cost: Decimal
    list_cost: Decimal
    unpriced_path: Path
    unpriced_items: int
    unpriced_tokens: int


def unpriced_path(out: Path) -> Path:
    """The companion CSV of the export at `out`: `<stem>.unpriced.csv` beside it."""
    return out.with_name(f"{out.stem}.unpriced.csv")


class UnsafeOutput(ValueError):
    """--out names a file the export must never replace."""


def check_output(out: Path, db_path: Path) -> None:
    """Refuse an output (or its companion CSV) that would replace something batchledger
    keeps: a DuckDB database (the published warehouse above all: a run that finds nothing
    new would never rewrite it), anything under the warehouse's working folder, the price
    seeds or the dbt project."""
    kept = [
        db_path.parent / ".work",
        PROJECT_ROOT / "prices",
        PROJECT_ROOT / "dbt_project",
    ]
    for path in (out, unpriced_path(out)):
        target = path.resolve()
        if target in (db_path.resolve(), Path(f"{db_path.resolve()}.wal")):
            raise UnsafeOutput(f"{path} is the warehouse itself: choose another --out")
        for folder in kept:
            if target.is_relative_to(folder.resolve()):
                raise UnsafeOutput(f"{path} is inside {folder}, which batchledger keeps")
        if target.is_file() and _is_duckdb_file(target):
            raise UnsafeOutput(f"{path} is a DuckDB database: choose another --out")


def _is_duckdb_file(path: Path) -> bool:
    """DuckDB files carry "DUCK" at byte 8 of their header."""
    try:
        with path.open("rb") as handle:
            return handle.read(12)[8:12] == b"DUCK"
    except OSError:
        return False


def export_focus(db_path: Path, out: Path, fmt: Format, month: date | None = None) -> FocusExport:
    """Write marts.focus_charges (one month's, with `month`) to `out` as `fmt`, and its
    unpriced usage to unpriced_path(out)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    check_output(out, db_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    companion = unpriced_path(out)
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        con.execute("set TimeZone = 'UTC'")
        con.execute("set enable_progress_bar = false")
        params = {"month": month}
        where = 'where $month is null or cast(charges."BillingPeriodStart" as date) = $month'
        select = f"select {_columns(con, fmt)} from marts.focus_charges as charges {where}"
        order = ' order by "ChargePeriodStart", "ResourceId", "SkuId", "Tags"'
        _copy(con, select + order, params, out, fmt)
        _copy(con, UNPRICED_QUERY, params, companion, "csv")
        totals = con.execute(
            f'select count(*), coalesce(sum("BilledCost"), 0), coalesce(sum("ListCost"), 0) '
            f"from marts.focus_charges as charges {where}",
            params,
        ).fetchone()
        unpriced = con.execute(
            f"select coalesce(sum(items), 0), coalesce(sum(total_tokens), 0) "
            f"from ({UNPRICED_QUERY})",
            params,
        ).fetchone()
    finally:
        con.close()
    assert totals is not None and unpriced is not None
    return FocusExport(
        path=out,
        rows=int(totals[0]),
        billed_cost=Decimal(totals[1]),
        list_cost=Decimal(totals[2]),
        unpriced_path=companion,
        unpriced_items=int(unpriced[0]),
        unpriced_tokens=int(unpriced[1]),
    )


def _columns(con: duckdb.DuckDBPyConnection, fmt: Format) -> str:
    """The mart's columns in order, its DateTimes as UTC for `fmt`."""
    columns_and_types = [
        (str(row[0]), str(row[1]))
        for row in con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'marts' and table_name = 'focus_charges' "
            "and table_catalog = current_database() order by ordinal_position"
        ).fetchall()
    ]
    if not columns_and_types:
        raise duckdb.CatalogException(
            "marts.focus_charges is missing: run `make transform` (or the next `make ingest`)"
        )
    columns = []
    for name, data_type in columns_and_types:
        quoted = f'charges."{name}"'
        if name in DATETIME_COLUMNS and fmt == "parquet":
            columns.append(f'cast({quoted} as timestamptz) as "{name}"')
        elif name in DATETIME_COLUMNS:
            columns.append(f"strftime({quoted}, '%Y-%m-%dT%H:%M:%SZ') as \"{name}\"")
        elif fmt == "csv" and re.fullmatch(r"DECIMAL\([0-9]+,0\)", data_type):
            # A whole number in a Decimal column (ConsumedQuantity) keeps a decimal point in
            # CSV, or readers take the column for an integer one.
            columns.append(f'cast({quoted} as decimal(38, 1)) as "{name}"')
        else:
            columns.append(quoted)
    return ", ".join(columns)


def _copy(
    con: duckdb.DuckDBPyConnection,
    query: str,
    params: dict[str, date | None],
    target: Path,
    fmt: Format,
) -> None:
    """COPY `query` to `target` through a temporary file renamed into place."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    options = "format parquet, compression zstd" if fmt == "parquet" else "format csv, header"
    escaped = str(tmp).replace("'", "''")
    try:
        con.execute(f"copy ({query}) to '{escaped}' ({options})", params)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
