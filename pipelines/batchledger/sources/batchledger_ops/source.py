"""The batchledger_ops dlt source itself (see the package docstring)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dlt
from dlt.extract.resource import DltResource

from batchledger.sources.batchledger_ops.helpers import submission_rows
from batchledger.sources.columns import column_hints, empty_table
from batchledger.store import invoice_lines_in, submissions_in, tags_in

SUBMISSION_COLUMNS = column_hints(
    not_null=("batch_id",),
    batch_id="text",
    submitted_at="timestamp",
    file="text",
    input_file_id="text",
    model="text",
    lines="bigint",
    # Text, so that dlt never rounds it; staging casts it to DECIMAL(38,18).
    estimate_usd="text",
    tags="json",
    parent_batch_id="text",
)
INVOICE_LINE_COLUMNS = column_hints(
    not_null=("file_sha256", "line_number"),
    file_sha256="text",
    file_name="text",
    imported_at="timestamp",
    line_number="bigint",
    invoice_month="text",
    model="text",
    description="text",
    # Text, so that dlt never rounds it; staging casts it to DECIMAL(38,18).
    amount_usd="text",
    currency="text",
)
TAG_COLUMNS = column_hints(
    not_null=("batch_id", "tag_key"), batch_id="text", tag_key="text", tag_value="text"
)


@dlt.source(name="batchledger_ops", max_table_nesting=0)
def batchledger_ops(ops_folder: Path) -> tuple[DltResource, ...]:
    """Submissions, batch tags and invoice lines recorded by the ops and invoice commands in
    `ops_folder` (each table created empty while the store has none)."""

    @dlt.resource(
        name="submissions",
        write_disposition="merge",
        primary_key="batch_id",
        columns=SUBMISSION_COLUMNS,
    )
    def submissions() -> Iterator[Any]:
        """One row per batch submitted by `batchledger submit` or `retry --submit`."""
        rows = submission_rows(submissions_in(ops_folder))
        yield rows or empty_table(SUBMISSION_COLUMNS)

    @dlt.resource(
        name="batch_tags",
        write_disposition="merge",
        primary_key=("batch_id", "tag_key"),
        columns=TAG_COLUMNS,
    )
    def batch_tags() -> Iterator[Any]:
        """One row per batch and tag key given with `--tag key=value` (or inherited by a retry)."""
        rows = tags_in(ops_folder)
        yield rows or empty_table(TAG_COLUMNS)

    @dlt.resource(name="invoice_lines", write_disposition="replace", columns=INVOICE_LINE_COLUMNS)
    def invoice_lines() -> Iterator[Any]:
        """One row per line of the invoices imported with `batchledger invoice import`. The
        whole table is replaced on each load: an import with --replace removes lines."""
        rows = [
            {
                **row,
                "line_number": int(row["line_number"]),
                "model": row["model"] or None,
                "description": row["description"] or None,
            }
            for row in invoice_lines_in(ops_folder)
        ]
        yield rows or empty_table(INVOICE_LINE_COLUMNS)

    return submissions, batch_tags, invoice_lines
