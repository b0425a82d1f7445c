"""The dbt cache the warehouses of one data folder share: a new warehouse starts from the
project's cached parse, and a full build runs the unit tests once per version of the code."""

from __future__ import annotations

import json
from pathlib import Path

from batchledger.build import dbt_artifacts_dir
from batchledger.transform import PROFILE_ENV, ParseCache


def test_a_new_target_starts_from_the_cached_parse_and_never_replaces_its_own(
    tmp_path: Path,
) -> None:
    env = dict.fromkeys(PROFILE_ENV, "x")
    cache = ParseCache(tmp_path / "cache", tmp_path / "a", env)
    (tmp_path / "a").mkdir()
    cache.local.write_bytes(b"parse of a")
    cache.keep()
    assert cache.cached.read_bytes() == b"parse of a"
    assert [p.name for p in cache.cached.parent.iterdir()] == [cache.cached.name]  # no temp

    new = ParseCache(tmp_path / "cache", tmp_path / "b", env)
    (tmp_path / "b").mkdir()
    new.seed()
    assert new.local.read_bytes() == b"parse of a"
    new.local.write_bytes(b"parse of b")
    new.seed()  # a target with its own parse keeps it
    assert new.local.read_bytes() == b"parse of b"

    # Another value in the profile's connection settings: dbt would refuse that parse.
    other = ParseCache(tmp_path / "cache", tmp_path / "c", {**env, PROFILE_ENV[0]: "y"})
    assert other.cached != cache.cached
    (tmp_path / "c").mkdir()
    other.seed()
    assert not other.local.exists()


def test_a_cache_that_cannot_be_written_changes_nothing_but_the_time(tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    cache = ParseCache(blocked, tmp_path / "t", {})
    cache.local.write_bytes(b"parse")
    cache.keep()
    cache.seed()
    assert cache.local.read_bytes() == b"parse"


def dbt_run(work_dir: Path) -> tuple[str, list[str]]:
    artifacts = dbt_artifacts_dir(work_dir)
    log = (artifacts / "logs" / "dbt.log").read_text()
    results = json.loads((artifacts / "target" / "run_results.json").read_text())["results"]
    return log, [result["unique_id"] for result in results]


def assert_second_warehouse_reused_the_dbt_cache(first: Path, second: Path) -> None:
    """`second` (a new warehouse, built after `first` with the same cache folder) started from
    the cached parse, and its full build ran every model and data test but no unit test, the
    first having passed them. (tests/ingest/test_ingest.py builds the two: empty accounts.)"""
    (first_log, first_nodes), (second_log, second_nodes) = dbt_run(first), dbt_run(second)
    assert "Unable to do partial parsing because saved manifest not found" in first_log
    assert "Unable to do partial parsing" not in second_log
    unit_tests = {node for node in first_nodes if node.startswith("unit_test.")}
    assert len(unit_tests) >= 6
    assert set(second_nodes) == set(first_nodes) - unit_tests
