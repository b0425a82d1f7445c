"""Class 1: file ids that are paths never become paths; requests for them are not rewritten."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from batchledger.emulator import Emulator
from batchledger.ingest import run_ingest
from batchledger.landing import HASHED_PREFIX, UnsafePathError, landing_path, local_name
from batchledger.together.client import segment
from tests.conftest import make_settings
from tests.hostile.conftest import VICTIM_TEXT, file_size, snapshot_outside_data
from tests.hostile.server import Hostile
from tests.ingest.test_ingest import counts, expected_counts


@pytest.mark.slow
@pytest.mark.parametrize("keep_landing", [True, False])
@pytest.mark.timeout(60)
def test_path_ids_load_under_safe_names_and_touch_nothing_outside(
    tmp_path: Path, emulator: Emulator, hostile: Hostile, outside: Path, keep_landing: bool
) -> None:
    jobs = [j for j in emulator.scenario.jobs if j.is_terminal_at(emulator.now())]
    first, second = jobs[0], jobs[1]
    # Aimed from <data>/landing/together/ (or the scratch folder) at files beside the data.
    hostile.rename(first.input_file_id, "../../../outside/victim")
    hostile.rename(first.output_file_id or "", str(outside / "other"))
    hostile.rename(second.input_file_id, "..")
    hostile.rename(second.output_file_id or "", "../../../../../../outside/deep/third")
    # Metadata `bytes` equal to the victim's size: the old code read the victim without a
    # download. Make it exactly so.
    (outside / "victim.jsonl").write_bytes(
        VICTIM_TEXT.ljust(file_size(emulator, first.input_file_id) - 1, b" ") + b"\n"
    )
    before = snapshot_outside_data(tmp_path)
    settings = make_settings(
        tmp_path,
        hostile.base_url,
        landing_dir=(tmp_path / "data" / "landing") if keep_landing else None,
    )

    for _ in range(2):  # the rerun must neither duplicate nor drop a row
        result = run_ingest(settings, build=False)
        assert counts(settings.db_path) == expected_counts(emulator.scenario, emulator)
        assert result.report.unavailable_files == []
        assert snapshot_outside_data(tmp_path) == before

    con = duckdb.connect(str(settings.db_path), read_only=True)
    victims = con.execute(
        "select count(*) from raw_together.batch_requests where custom_id like 'victim%'"
    ).fetchone()
    loaded_ids = {
        r[0] for r in con.execute("select file_id from raw_together.file_loads").fetchall()
    }
    con.close()
    assert victims == (0,)
    assert {"../../../outside/victim", "..", str(outside / "other")} <= loaded_ids
    # The content came over HTTP for the renamed ids, quoted as one path segment.
    assert hostile.content_requests(first.input_file_id) >= 1
    assert hostile.content_requests(second.input_file_id) >= 1
    if keep_landing:
        names = {p.name for p in (tmp_path / "data" / "landing" / "together").iterdir()}
        assert sum(name.startswith(HASHED_PREFIX) for name in names) == 4
        assert all("/" not in name and name.endswith(".jsonl") for name in names)


@pytest.mark.parametrize(
    "file_id", ["../x", "/etc/passwd", "..", ".", "a/b", "", "x\x00y", "é", "a" * 200, "-x"]
)
def test_odd_ids_get_a_hashed_name_inside_the_folder(tmp_path: Path, file_id: str) -> None:
    path = landing_path(tmp_path, file_id)
    assert path.parent == tmp_path / "together"
    assert path.name.startswith(HASHED_PREFIX)
    assert landing_path(tmp_path, file_id) == path  # deterministic


def test_plain_ids_keep_their_name_and_differ_from_any_hashed_one(tmp_path: Path) -> None:
    plain = "file-73585c5e-0a77-49f6-ac0c-604ebd49727b"
    assert landing_path(tmp_path, plain).name == f"{plain}.jsonl"
    assert local_name("../x") != local_name("../y")
    # A plain id can never look like a hashed name: those start with a character ids cannot.
    assert not local_name(local_name("../x")[:-6]).startswith(local_name("../x")[:-6] + ".")


def test_a_symlink_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "together"
    folder.mkdir()
    (folder / "file-1.jsonl").symlink_to(tmp_path / "elsewhere.jsonl")
    with pytest.raises(UnsafePathError, match="outside"):
        landing_path(tmp_path, "file-1")


@pytest.mark.parametrize(
    ("file_id", "quoted"),
    [("file-1", "file-1"), ("..", "%2E%2E"), ("../../x", "..%2F..%2Fx"), ("a?b#c", "a%3Fb%23c")],
)
def test_ids_are_one_quoted_url_segment(file_id: str, quoted: str) -> None:
    assert segment(file_id) == quoted
