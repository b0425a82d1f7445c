"""The published warehouse opens in the DuckDB that BI tools bundle: 1.x clients, not only 2.x.

Each client runs in its own virtual environment (duckdb_clients.py: made by `make setup`, cached
under .venv/duckdb-clients/) and reads every mart.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import duckdb
import pytest

from .duckdb_clients import CLIENTS, client_python

READ_EVERY_MART = """
import json, sys
import duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
marts = [row[0] for row in con.execute(
    "select table_name from information_schema.tables where table_schema = 'marts' order by 1"
).fetchall()]
counts = {name: con.execute(f'select count(*) from marts."{name}"').fetchone()[0] for name in marts}
cost = con.execute("select sum(cost_usd)::varchar from marts.cost_by_month").fetchone()[0]
print(json.dumps({"version": duckdb.__version__, "counts": counts, "cost": cost}))
"""


@pytest.mark.timeout(600)
@pytest.mark.parametrize(("requirement", "name"), CLIENTS)
def test_a_1x_client_reads_every_mart_of_the_published_file(
    demo_db: Path, requirement: str, name: str
) -> None:
    python = client_python(requirement, name)
    completed = subprocess.run(
        [str(python), "-c", READ_EVERY_MART, str(demo_db)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    seen = json.loads(completed.stdout)
    assert seen["version"].startswith(name + ".")

    con = duckdb.connect(str(demo_db), read_only=True)
    try:
        marts = [
            row[0]
            for row in con.execute(
                "select table_name from information_schema.tables "
                "where table_schema = 'marts' order by 1"
            ).fetchall()
        ]
        counts = {m: con.execute(f'select count(*) from marts."{m}"').fetchone()[0] for m in marts}  # type: ignore[index]
        row = con.execute("select sum(cost_usd)::varchar from marts.cost_by_month").fetchone()
    finally:
        con.close()
    assert "fct_batch_items" in counts and counts["fct_batch_items"] > 0
    assert seen["counts"] == counts
    assert row is not None and seen["cost"] == row[0]
