"""Every ```sql block of the README's "Querying the warehouse" runs against a built warehouse."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from .conftest import REPO_ROOT

SQL_BLOCK = re.compile(r"```sql\n(.*?)```", re.DOTALL)


def query_source() -> Path:
    return REPO_ROOT / "README.md"


def documented_queries() -> list[str]:
    return SQL_BLOCK.findall(query_source().read_text(encoding="utf-8"))


def test_at_least_five_queries_are_documented() -> None:
    assert len(documented_queries()) >= 5, query_source()


@pytest.mark.parametrize("sql", documented_queries())
def test_documented_query_returns_rows_on_the_demo(
    demo_con: duckdb.DuckDBPyConnection, sql: str
) -> None:
    assert demo_con.execute(sql).fetchall(), sql
