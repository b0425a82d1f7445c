"""The published warehouse opens in the DuckDB that BI tools bundle: 1.x clients, not only 2.x.

Each client runs in its own virtual environment, made once by uv from the registry and cached
under .venv/duckdb-clients/ (so `make clean` removes it), and reads every mart.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CLIENTS_DIR = REPO_ROOT / ".venv" / "duckdb-clients"
UV = Path(sys.executable).with_name("uv")

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


def client_python(requirement: str, name: str) -> Path:
    """The interpreter of a cached environment with `requirement` installed."""
    env_dir = CLIENTS_DIR / name
    python = env_dir / "bin" / "python"
    if not (env_dir / ".ready").exists():
        env = {**os.environ, "VIRTUAL_ENV": str(env_dir)}
        env.pop("UV_PROJECT_ENVIRONMENT", None)
        subprocess.run(
            [str(UV), "venv", "--quiet", "--python", sys.executable, str(env_dir)],
            check=True,
            env=env,
        )
        subprocess.run(
            [str(UV), "pip", "install", "--quiet", "--python", str(python), requirement],
            check=True,
            env=env,
        )
        (env_dir / ".ready").touch()
    return python


@pytest.mark.timeout(600)
@pytest.mark.parametrize(
    ("requirement", "name"), [("duckdb==1.1.3", "1.1"), ("duckdb>=1.4,<1.5", "1.4")]
)
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
