"""`batchledger reprocess`: landed files parsed again with no API request; their lines replace
the old ones, quarantined lines included, and nothing is duplicated."""

from __future__ import annotations

import pytest

from batchledger.emulator import Emulator
from batchledger.ingest import IngestError
from batchledger.landing import landing_path
from batchledger.reprocess import reprocess
from batchledger.settings import Settings
from tests.ingest.test_ingest import counts, expected_counts, ingest


@pytest.mark.slow
def test_a_fixed_landed_file_replaces_its_lines_without_the_api(
    emulator: Emulator, settings: Settings
) -> None:
    emulator.faults.malformed_output_line = True
    ingest(settings)
    malformed = emulator.malformed_lines
    assert malformed
    assert counts(settings.db_path)["quarantine"] == len(malformed)
    # The fix: the landed copies without the bad lines (as a newer parser would read them).
    assert settings.landing_dir is not None
    for file_id in {file_id for file_id, _ in malformed}:
        path = landing_path(settings.landing_dir, file_id)
        bad = {n for f, n in malformed if f == file_id}
        kept = [
            line for n, line in enumerate(path.read_bytes().splitlines(True), 1) if n not in bad
        ]
        path.write_bytes(b"".join(kept))
    emulator.reset_log()
    work_db = settings.work_dir / "warehouse.duckdb"
    result = reprocess(settings, work_db, build=False)
    assert emulator.request_log == []
    assert counts(settings.db_path) == expected_counts(emulator.scenario, emulator)
    assert result.report.quarantined == 0
    # Again: the same lines, not twice.
    reprocess(settings, work_db, build=False)
    assert counts(settings.db_path) == expected_counts(emulator.scenario, emulator)


@pytest.mark.slow
def test_a_file_without_a_landing_copy_is_named(emulator: Emulator, settings: Settings) -> None:
    ingest(settings)
    with pytest.raises(IngestError, match="file-nowhere"):
        reprocess(
            settings,
            settings.work_dir / "warehouse.duckdb",
            ("file-nowhere",),
            build=False,
        )
