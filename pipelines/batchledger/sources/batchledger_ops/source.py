"""The batchledger_ops dlt source itself (see the package docstring)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dlt
from dlt.extract.resource import DltResource

from batchledger.ops.store import submissions_in, tags_in
from batchledger.sources.batchledger_ops.helpers import submission_rows


@dlt.source(name="batchledger_ops", max_table_nesting=0)
def batchledger_ops(ops_folder: Path) -> tuple[DltResource, ...]:
    """Submissions and batch tags recorded by the ops commands in `ops_folder`."""

    @dlt.resource(
        name="submissions",
        write_disposition="merge",
        primary_key="batch_id",
        columns={
            "batch_id": {"data_type": "text", "nullable": False},
            "submitted_at": {"data_type": "timestamp", "timezone": True},
            "file": {"data_type": "text"},
            "input_file_id": {"data_type": "text"},
            "model": {"data_type": "text"},
            "lines": {"data_type": "bigint"},
            # Text, so that dlt never rounds it; staging casts it to DECIMAL(38,18).
            "estimate_usd": {"data_type": "text"},
            "tags": {"data_type": "json"},
            "parent_batch_id": {"data_type": "text"},
        },
    )
    def submissions() -> Iterator[list[dict[str, Any]]]:
        """One row per batch submitted by `batchledger submit` or `retry --submit`."""
        yield submission_rows(submissions_in(ops_folder))

    @dlt.resource(
        name="batch_tags",
        write_disposition="merge",
        primary_key=("batch_id", "tag_key"),
        columns={
            "batch_id": {"data_type": "text", "nullable": False},
            "tag_key": {"data_type": "text", "nullable": False},
            "tag_value": {"data_type": "text"},
        },
    )
    def batch_tags() -> Iterator[list[dict[str, str]]]:
        """One row per batch and tag key given with `--tag key=value` (or inherited by a retry)."""
        yield tags_in(ops_folder)

    return submissions, batch_tags
