"""Column hints shared by the dlt sources, and the empty table that creates a raw table before
its first row arrives.

dlt creates a table only when a load package holds rows for it, except for an Arrow table,
which it creates even when empty. A new account (no job yet, nothing submitted) would
otherwise have no raw tables, and finance's first queries of them would fail.

The hints here are those of resources whose rows are dicts. dlt gives each such row a row key,
`_dlt_id` (text, unique, not null), but an Arrow table none: a table created from the empty
table would get the column only with its first row, and dlt would warn twice that it adds a
unique, not-null column to an existing table (the first `invoice import` into a warehouse
did). So the hints declare the row key, and the empty table creates it with the others.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from dlt.common.schema.typing import C_DLT_ID
from dlt.common.schema.utils import dlt_id_column

# The Arrow type dlt reads back as each hinted data type. A json column has none (dlt reads
# an Arrow string as text, and warns of the clash): the empty table leaves it out, and dlt
# still creates it, from its hint.
_ARROW_TYPES: dict[str, pa.DataType] = {
    "text": pa.string(),
    "bigint": pa.int64(),
    "double": pa.float64(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"),
}


def column_hints(*, not_null: tuple[str, ...] = (), **types: str) -> dict[str, Any]:
    """Fresh column hints per table of dict rows, dlt's row key included: dlt fills these
    dicts in place, so none may be shared. Timestamps are UTC instants (timezone-aware)."""
    return {
        **{
            name: {
                "data_type": kind,
                **({"timezone": True} if kind == "timestamp" else {}),
                **({"nullable": False} if name in not_null else {}),
            }
            for name, kind in types.items()
        },
        C_DLT_ID: dlt_id_column(),
    }


def empty_table(hints: dict[str, Any]) -> pa.Table:
    """No rows, with the hinted columns: yielded once so that dlt creates the table (and the
    row key, from its hint: dlt generates it, the data never carries it)."""
    return pa.schema(
        [
            pa.field(name, _ARROW_TYPES[hint["data_type"]], nullable=hint.get("nullable", True))
            for name, hint in hints.items()
            if hint["data_type"] in _ARROW_TYPES and name != C_DLT_ID
        ]
    ).empty_table()
