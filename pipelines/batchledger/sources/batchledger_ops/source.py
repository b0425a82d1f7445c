"""The batchledger_ops dlt source itself (see the package docstring)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dlt
from dlt.extract.resource import DltResource

from batchledger.sources.batchledger_ops.helpers import submission_rows
from batchledger.sources.columns import column_hints, empty_table
from batchledger.store import submissions_in, tags_in

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
TAG_COLUMNS = column_hints(
    not_null=("batch_id", "tag_key"), batch_id="text", tag_key="text", tag_value="text"
)


@dlt.source(name="batchledger_ops", max_table_nesting=0)
def batchledger_ops(ops_folder: Path) -> tuple[DltResource, ...]:
    """Submissions and batch tags recorded by the ops commands in `ops_folder` (each table
    created empty while the store has none)."""

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

    return submissions, batch_tags
