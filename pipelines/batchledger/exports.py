"""The marts as Parquet files, for tools that read Parquet rather than DuckDB.

`data/marts/<warehouse name>/` holds one `<mart>.parquet` per table and view of the `marts`
schema, so the demo's files never mix with a real warehouse's. The folder is a symlink to one
generation folder (`.<name>-<build id>`), swapped with one rename after the new set is written:
a reader sees the old set or the new set, never a mix, and a reader with a file open keeps
reading it after the swap. A mart whose content did not change since the last export (same row
count and newest `_build_id`, for the incremental ones) is hard-linked from the previous set
instead of written again; the small rollups are rewritten each time.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from pathlib import Path

import duckdb

from batchledger.settings import duckdb_memory_limit

log = logging.getLogger(__name__)

# The sidecar in each generation: per mart, what it was written from.
MANIFEST = "_export.json"


def marts_folder(published: Path) -> Path:
    """Where the Parquet marts of the warehouse at `published` go."""
    return published.parent / "marts" / published.stem


def export_marts(work_db: Path, published: Path, build_id: str) -> Path:
    """Write the marts of `work_db` as Parquet and swap them in; returns the folder."""
    link = marts_folder(published)
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.exists() and not link.is_symlink():
        log.warning("%s is not batchledger's (not a symlink): Parquet marts not written", link)
        return link
    previous = link.resolve() if link.is_symlink() else None
    if previous is not None and (
        previous.parent != link.parent.resolve() or not _is_generation(link, previous.name)
    ):
        # Pointed elsewhere by hand: never delete it, only stop pointing at it.
        previous = None
    before = _manifest(previous) if previous is not None else {}
    fresh = link.parent / f".{link.name}-{build_id or 'unbuilt'}"
    if fresh.exists() and fresh != previous:
        shutil.rmtree(fresh)
    staging = fresh.with_name(fresh.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    con = duckdb.connect(
        str(work_db),
        read_only=True,
        # Row order means nothing in a mart; without it DuckDB writes on all its threads.
        config={"memory_limit": duckdb_memory_limit(), "preserve_insertion_order": False},
    )
    try:
        con.execute("set enable_progress_bar = false")
        written = {}
        for mart, marks in _marts(con).items():
            target = staging / f"{mart}.parquet"
            if previous is not None and before.get(mart) == marks and marks.get("incremental"):
                os.link(previous / f"{mart}.parquet", target)
            else:
                con.execute(
                    f"copy (select * from marts.\"{mart}\") to '{_escaped(target)}' "
                    "(format parquet, compression zstd)"
                )
            written[mart] = marks
    finally:
        con.close()
    (staging / MANIFEST).write_text(json.dumps(written, indent=2, sort_keys=True))
    if fresh == previous:
        return link  # nothing new to swap in (the same build exported again)
    os.replace(staging, fresh)
    _swap(link, fresh)
    if previous is not None and previous != fresh:
        shutil.rmtree(previous, ignore_errors=True)
    _sweep(link, keep=fresh)
    return link


def _is_generation(link: Path, name: str) -> bool:
    """Whether `name` is a generation folder (or its staging) of `link`: `.<link>-<build id>`,
    build ids being 19 digits (build_state.next_build_id), so neither another warehouse's
    `.<link>-x-...` nor a user's `.<link>-2024.12` ever is."""
    pattern = rf"\.{re.escape(link.name)}-([0-9]{{19}}|unbuilt)(\.tmp)?"
    return re.fullmatch(pattern, name) is not None


def _sweep(link: Path, *, keep: Path) -> None:
    """Remove what an export killed midway left beside `link`: its staging or superseded
    generation folders and its temporary symlinks. Nothing of another name is touched."""
    for entry in link.parent.iterdir():
        if entry in (keep, link):
            continue
        if _is_generation(link, entry.name) and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        elif re.fullmatch(rf"\.{re.escape(link.name)}\.[0-9]+\.link", entry.name):
            entry.unlink(missing_ok=True)


def _marts(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, object]]:
    """Every table and view of the marts schema, with what identifies its content: the row
    count, and for marts built incrementally (they carry `_build_id`) the newest build id."""
    names = con.execute(
        "select table_name, column_name = '_build_id' from information_schema.columns "
        "where table_schema = 'marts' and table_catalog = current_database() "
        "order by table_name"
    ).fetchall()
    incremental: dict[str, bool] = {}
    for name, is_build_id in names:
        incremental[str(name)] = incremental.get(str(name), False) or bool(is_build_id)
    marks: dict[str, dict[str, object]] = {}
    for name, has_build_id in incremental.items():
        select = "count(*)" + (", max(_build_id)" if has_build_id else ", null")
        row = con.execute(f'select {select} from marts."{name}"').fetchone()
        assert row is not None
        marks[name] = {"rows": int(row[0]), "build": row[1], "incremental": has_build_id}
    return marks


def _manifest(folder: Path) -> dict[str, object]:
    try:
        loaded = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _swap(link: Path, target: Path) -> None:
    """Point `link` at `target` with one rename (a new symlink renamed over the old one)."""
    tmp = link.with_name(f".{link.name}.{os.getpid()}.link")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target.name)
    os.replace(tmp, link)


def _escaped(path: Path) -> str:
    return str(path).replace("'", "''")
