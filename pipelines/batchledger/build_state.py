"""What the last published build was made from, so that a run with nothing new does nothing.

A build's inputs are the raw tables (dlt loads, each with a load id), the ops store's files and
the dbt project with its seeds (`dbt_project/`, `prices/`) and profile. The state of the last
published build records the newest load id it covered and fingerprints of the other two; a run
compares them with what is there now:

- nothing differs: the marts are up to date, so no dbt build and no publish;
- only loads are newer: an incremental build of the batches those loads touched;
- the dbt project, prices or profile differ (or there is no state): a full rebuild, which
  reprices everything a price or model change can affect.

The state file lives in the private work folder and is written only after a publish, so a crash
anywhere before that leaves the old state and the next run rebuilds what is missing.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import duckdb

from batchledger.paths import DBT_PROJECT_DIR, PRICES_DIR

STATE_FILE = "build_state.json"
# Build output and caches inside dbt_project/ that are not inputs of a build.
_NOT_INPUTS = frozenset({"target", "logs", "dbt_packages", "__pycache__"})
# The schemas dlt loads into; their tables carry `_dlt_load_id` on every row.
RAW_SCHEMAS = ("raw_together", "raw_batchledger")


@dataclass(frozen=True)
class BuildState:
    """The inputs of the last published build."""

    # The dbt project, prices and dbt versions (dbt_inputs_fingerprint), and the raw tables'
    # columns (raw_columns_fingerprint).
    dbt_inputs: str
    ops_inputs: str
    # The newest dlt load id the build covered ("" when the raw tables were empty).
    loaded_through: str
    # The last build's id: digits, increasing from build to build (fct_batch_items._build_id).
    build_id: str = ""


def next_build_id(previous: BuildState | None) -> str:
    """An id greater than every earlier build's, even if the clock stepped back (nanoseconds
    as 19 digits: ids compare as text, like dlt's load ids)."""
    now = time.time_ns()
    if previous is not None and previous.build_id.isdigit():
        now = max(now, int(previous.build_id) + 1)
    return f"{now:019d}"


def _hash_tree(digest: hashlib._Hash, root: Path) -> None:
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if relative.parts[0] in _NOT_INPUTS or not path.is_file():
            continue
        digest.update(str(relative).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())


def dbt_inputs_fingerprint() -> str:
    """Models, macros, tests, seeds (prices/ included), profile, vars, and the dbt versions."""
    digest = hashlib.sha256()
    for root in (DBT_PROJECT_DIR, PRICES_DIR):
        digest.update(f"[{root.name}]".encode())
        _hash_tree(digest, root)
    for package in ("dbt-core", "dbt-duckdb", "duckdb"):
        try:
            digest.update(f"{package}=={version(package)}".encode())
        except PackageNotFoundError:
            digest.update(f"{package} missing".encode())
    return digest.hexdigest()


def ops_inputs_fingerprint(folder: Path, names: tuple[str, ...]) -> str:
    """The ops store's files that the marts read (submissions and tags; not alert state)."""
    digest = hashlib.sha256()
    for name in names:
        path = folder / name
        digest.update(name.encode() + b"\0")
        digest.update(path.read_bytes() if path.exists() else b"\0missing")
    return digest.hexdigest()


def newest_load_id(con: duckdb.DuckDBPyConnection) -> str:
    """The newest dlt load id in any raw table ("" when nothing is loaded)."""
    tables = con.execute(
        """
        select table_schema, table_name
        from information_schema.columns
        where table_schema in (select unnest($schemas)) and column_name = '_dlt_load_id'
        """,
        {"schemas": list(RAW_SCHEMAS)},
    ).fetchall()
    newest = ""
    for schema, table in tables:
        row = con.execute(f'select max(_dlt_load_id) from "{schema}"."{table}"').fetchone()
        if row and row[0] and str(row[0]) > newest:
            newest = str(row[0])
    return newest


def raw_columns_fingerprint(con: duckdb.DuckDBPyConnection) -> str:
    """The raw tables' columns: staging views are rendered from them (a column dlt has not
    created yet reads as a typed null), so a new column needs the views rebuilt."""
    rows = con.execute(
        """
        select table_schema, table_name, column_name, data_type
        from information_schema.columns
        where table_schema in (select unnest($schemas))
        order by all
        """,
        {"schemas": list(RAW_SCHEMAS)},
    ).fetchall()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def read_build_state(work_dir: Path) -> BuildState | None:
    path = work_dir / STATE_FILE
    try:
        return BuildState(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        # Missing, torn or from another version: the next build is a full one.
        return None


def write_build_state(work_dir: Path, state: BuildState) -> None:
    """Write-then-rename, so a crash never leaves a state that claims more than was built."""
    work_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=work_dir, prefix=STATE_FILE, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(asdict(state), out, indent=2, sort_keys=True)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, work_dir / STATE_FILE)


def forget_build_state(work_dir: Path) -> None:
    """The next build is a full one (after a failed build, or a lost working copy)."""
    (work_dir / STATE_FILE).unlink(missing_ok=True)
