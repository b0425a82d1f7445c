"""Fixtures for the hostile-server tests: the server, short limits, and the checks every case
makes (exact raw counts, nothing touched outside the data folder, the key nowhere)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from batchledger.emulator import Emulator
from batchledger.settings import Settings
from batchledger.together import RetryPolicy
from batchledger.together import limits as limits_module
from batchledger.together.limits import ClientLimits
from tests.conftest import TEST_API_KEY, make_settings
from tests.hostile.server import Hostile

VICTIM_TEXT = b'{"custom_id": "victim-1", "body": {"model": "victim-model"}}\n'


@pytest.fixture(autouse=True)
def short_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Seconds, not the production half hours; retries without real waiting."""
    monkeypatch.setattr(
        limits_module, "DEFAULT_LIMITS", ClientLimits(request_seconds=2.0, transfer_seconds=1.5)
    )
    monkeypatch.setattr(
        "batchledger.together.client.RetryPolicy",
        lambda: RetryPolicy(base_delay=0.01, max_retry_after=0.05, max_total_wait=1.0),
    )


@pytest.fixture
def hostile(emulator: Emulator) -> Iterator[Hostile]:
    with Hostile(emulator) as server:
        yield server


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """Files a hostile id aims at, beside (not in) the data folder."""
    folder = tmp_path / "outside"
    (folder / "deep").mkdir(parents=True)
    for name in ("victim.jsonl", "other.jsonl", "deep/third.jsonl"):
        (folder / name).write_bytes(VICTIM_TEXT)
    return folder


@pytest.fixture
def hostile_settings(tmp_path: Path, hostile: Hostile, outside: Path) -> Settings:
    # Ingest gives its client the limits from its settings: the same short ones.
    return make_settings(
        tmp_path, hostile.base_url, request_timeout_seconds=2.0, transfer_timeout_seconds=1.5
    )


def snapshot_outside_data(root: Path) -> dict[str, str]:
    """Every file under `root` but the data folder, with its hash."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.relative_to(root).parts[0] != "data"
    }


def assert_key_nowhere(root: Path, *texts: str) -> None:
    """Not in any text given (captured output, errors) nor any file: warehouse, landing copies,
    dlt's pipeline folder and trace."""
    for text in texts:
        assert TEST_API_KEY not in text
    scanned = 0
    for path in root.rglob("*"):
        if path.is_file():
            scanned += 1
            assert TEST_API_KEY.encode() not in path.read_bytes(), f"API key found in {path}"
    assert scanned > 5


def error_chain(exc: BaseException) -> str:
    """Every message down an exception's cause/context chain, as the CLI would show them."""
    seen: list[str] = []
    current: BaseException | None = exc
    while current is not None and len(seen) < 20:
        seen.append(f"{type(current).__name__}: {current}")
        current = current.__cause__ or current.__context__
    return "\n".join(seen)


def lines_of(emulator: Emulator, file_id: str) -> int:
    response = httpx.get(
        f"{emulator.base_url}/v1/files/{file_id}/content",
        headers={"Authorization": f"Bearer {TEST_API_KEY}"},
    )
    response.raise_for_status()
    return response.content.count(b"\n")


def file_size(emulator: Emulator, file_id: str) -> int:
    response = httpx.get(
        f"{emulator.base_url}/v1/files/{file_id}",
        headers={"Authorization": f"Bearer {TEST_API_KEY}"},
    )
    return int(response.json()["bytes"])
