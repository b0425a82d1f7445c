"""Virtual environments with the DuckDB 1.x clients that BI tools bundle, for test_old_clients.

Made once by uv from the registry under .venv/duckdb-clients/ (so `make clean` removes them).
`make setup` makes them (`python -m tests.warehouse.duckdb_clients`), so a test run does not
pay for the install; a test that finds one missing makes it itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CLIENTS_DIR = REPO_ROOT / ".venv" / "duckdb-clients"
UV = Path(sys.executable).with_name("uv")
# (requirement, name): the name is the version prefix the client must report.
CLIENTS = (("duckdb==1.1.3", "1.1"), ("duckdb>=1.4,<1.5", "1.4"))


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


if __name__ == "__main__":
    for requirement, name in CLIENTS:
        client_python(requirement, name)
