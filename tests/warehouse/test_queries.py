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


def test_the_savings_query_compares_the_same_tokens_on_both_sides(
    demo_con: duckdb.DuckDBPyConnection,
) -> None:
    """The README's savings by month: its batch cost is that of the items it has a real-time
    cost for (not the month's whole spend, which holds dedicated hours), so batch <= real-time."""
    sql = next(query for query in documented_queries() if "savings_percent" in query)
    shown = {row[0]: row[1:3] for row in demo_con.execute(sql).fetchall()}
    items = demo_con.execute(
        "select usage_month, round(sum(realtime_cost_usd), 6), round(sum(cost_usd), 6) "
        "from marts.fct_batch_items where realtime_cost_usd is not null group by all"
    ).fetchall()
    assert items
    assert shown == {month: (realtime, cost) for month, realtime, cost in items}
    assert all(cost <= realtime for realtime, cost in shown.values())


ANALYST_BLOCK = re.compile(r"```sql analyst\n(.*?)```", re.DOTALL)


def test_the_your_own_tables_examples_run(demo_db: Path, tmp_path: Path) -> None:
    """The README's "Your own tables" examples, on a copy of the demo warehouse."""
    blocks = ANALYST_BLOCK.findall(query_source().read_text(encoding="utf-8"))
    assert len(blocks) == 2
    copy = tmp_path / "data" / "warehouse.duckdb"
    copy.parent.mkdir()
    copy.write_bytes(demo_db.read_bytes())
    con = duckdb.connect(str(copy))
    try:
        con.execute(blocks[0])
        assert con.execute("select count(*) from analyst.q4_plan").fetchone() == (2,)
    finally:
        con.close()
    mine = duckdb.connect(str(tmp_path / "my_analysis.duckdb"))
    try:
        mine.execute(blocks[1].replace("data/warehouse.duckdb", str(copy)))
        row = mine.execute("select count(*) from my_jobs").fetchone()
        assert row is not None and row[0] > 0
    finally:
        mine.close()
