"""The one way tests read a warehouse: rows of a query, as tuples or as dicts by column name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb


def query(db: Path, sql: str, *params: object) -> list[tuple[Any, ...]]:
    """The rows of `sql` on the DuckDB file `db`, opened read-only (as a BI tool would) and
    closed again, so that the next build can take the file."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def dict_rows(con: duckdb.DuckDBPyConnection, sql: str, *params: object) -> list[dict[str, Any]]:
    """The rows of `sql` on an open connection, each a dict by column name."""
    result = con.execute(sql, list(params))
    names = [column[0] for column in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]
