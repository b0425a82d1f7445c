"""The marts as Parquet files, for tools that read Parquet rather than DuckDB.

`data/marts/<warehouse name>/` holds one `<mart>.parquet` per table and view of the `marts`
schema, so the demo's files never mix with a real warehouse's. The folder is a symlink to one
generation folder (`.<name>-<build id>`), swapped with one rename after the new set is written:
a reader sees the old set or the new set, never a mix, and a reader with a file open keeps
reading it after the swap.

A mart built incrementally that records the build of each row (`_build_id`: the item mart and
`data_quality_issues`) is a folder `<mart>/` of parts instead, each part holding the rows of a
few builds. A part whose rows did not change since the last export is hard-linked from the
previous set, and the rows of new builds go into one new part: a run with one new job writes
that job's rows, not the whole item mart again (17.5 s at 10M items as one file). Rows of a
build never change after it, they are only deleted when a later build replaces their batch, so
a part is unchanged exactly when each of its builds still has the same number of rows. The
small rollups are rewritten each time.
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
# Parts of a mart, at most: past it, the smallest parts are merged into the new one, so that
# readers never open thousands of small files after months of runs every 30 minutes.
MAX_PARTS = 16
# A part's name: the build id of the export that wrote it (19 digits; see _is_generation).
PART_NAME = re.compile(r"part-([0-9]{19}|unbuilt)\.parquet")


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
    # Resolved, so that a data/marts that is itself a symlink still compares equal to where
    # the link points (else the live generation looked like another one, and was deleted).
    folder = link.parent.resolve()
    previous = link.resolve() if link.is_symlink() else None
    if previous is not None and (
        previous.parent != folder or not _is_generation(link, previous.name)
    ):
        # Pointed elsewhere by hand: never delete it, only stop pointing at it.
        previous = None
    before = _manifest(previous) if previous is not None else {}
    fresh = folder / f".{link.name}-{build_id or 'unbuilt'}"
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
        written: dict[str, dict[str, object]] = {}
        for mart, has_build_id in _marts(con).items():
            if has_build_id:
                old = before.get(mart) if previous is not None else None
                old_parts = old.get("parts") if isinstance(old, dict) else None
                written[mart] = _write_parts(
                    con,
                    mart,
                    staging / mart,
                    previous=previous / mart if previous is not None else None,
                    old_parts=old_parts if isinstance(old_parts, dict) else {},
                    part_name=f"part-{build_id or 'unbuilt'}.parquet",
                )
            else:
                _copy(con, f'select * from marts."{mart}"', staging / f"{mart}.parquet")
                written[mart] = {"parts": None}
    finally:
        con.close()
    (staging / MANIFEST).write_text(json.dumps(written, indent=2, sort_keys=True))
    if fresh == previous:
        shutil.rmtree(staging, ignore_errors=True)
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
        if entry.name in (keep.name, link.name):
            continue
        if _is_generation(link, entry.name) and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        elif re.fullmatch(rf"\.{re.escape(link.name)}\.[0-9]+\.link", entry.name):
            entry.unlink(missing_ok=True)


def _marts(con: duckdb.DuckDBPyConnection) -> dict[str, bool]:
    """Every table and view of the marts schema, and whether it records `_build_id`."""
    names = con.execute(
        "select table_name, column_name = '_build_id' from information_schema.columns "
        "where table_schema = 'marts' and table_catalog = current_database() "
        "order by table_name"
    ).fetchall()
    marts: dict[str, bool] = {}
    for name, is_build_id in names:
        marts[str(name)] = marts.get(str(name), False) or bool(is_build_id)
    return marts


Parts = dict[str, dict[str, int]]  # part file name -> {build id: rows}


def _write_parts(
    con: duckdb.DuckDBPyConnection,
    mart: str,
    folder: Path,
    *,
    previous: Path | None,
    old_parts: Parts,
    part_name: str,
) -> dict[str, object]:
    """Write `mart` as a folder of parts: unchanged parts of the previous set hard-linked,
    the rows of every other build in one new part. Returns the mart's manifest entry."""
    counts = {
        str(build): int(rows)
        for build, rows in con.execute(
            f"select coalesce(_build_id, ''), count(*) from marts.\"{mart}\" group by all"
        ).fetchall()
    }
    kept: Parts = {
        name: builds
        for name, builds in _valid_parts(old_parts).items()
        if previous is not None
        and builds
        and all(counts.get(build) == rows for build, rows in builds.items())
        and (previous / name).is_file()
    }
    covered = {build for builds in kept.values() for build in builds}
    fresh = {build: rows for build, rows in counts.items() if build not in covered}
    while len(kept) + (1 if fresh else 0) > MAX_PARTS:
        smallest = min(kept, key=lambda name: sum(kept[name].values()))
        fresh.update(kept.pop(smallest))
    folder.mkdir()
    for name in kept:
        assert previous is not None
        os.link(previous / name, folder / name)
    parts = dict(kept)
    if fresh or not kept:
        # Always at least one part, even of no rows: readers of `<mart>/*.parquet` then get
        # the columns rather than "no files found".
        _copy(
            con,
            f"select * from marts.\"{mart}\" where coalesce(_build_id, '') in "
            "(select unnest($builds))",
            folder / part_name,
            {"builds": sorted(fresh)},
        )
        parts[part_name] = fresh
    return {"parts": parts}


def _valid_parts(parts: Parts) -> Parts:
    """The parts of a manifest that can be trusted: named as this module names them, each
    build in one part only. A hand-edited or damaged manifest costs a rewrite, never a row
    read twice or a link outside the folder."""
    valid: Parts = {}
    seen: set[str] = set()
    for name, builds in parts.items():
        if not isinstance(builds, dict) or not builds or not PART_NAME.fullmatch(str(name)):
            continue
        if seen & set(builds) or not all(isinstance(rows, int) for rows in builds.values()):
            continue
        seen |= set(builds)
        valid[name] = builds
    return valid


def _copy(
    con: duckdb.DuckDBPyConnection,
    select: str,
    target: Path,
    parameters: dict[str, object] | None = None,
) -> None:
    con.execute(
        f"copy ({select}) to '{_escaped(target)}' (format parquet, compression zstd)",
        parameters,
    )


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
