"""Class 5 and 8 in the ops commands: a trickling webhook, failed delivery, a huge input file."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from batchledger.ops.validate import check_file
from batchledger.ops.watch import post_webhook


@pytest.fixture
def trickling_webhook() -> Iterator[str]:
    """Accepts, then sends its status line one byte every 0.2 s, forever."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            threading.Thread(target=drip, args=(conn,), daemon=True).start()

    def drip(conn: socket.socket) -> None:
        try:
            while not stop.is_set():
                conn.sendall(b"H")
                time.sleep(0.2)
        except OSError:
            pass
        finally:
            conn.close()

    # Join the accept loop before closing its socket: closing first makes accept() raise
    # EBADF in the thread, which pytest reports against whichever test runs next.
    acceptor = threading.Thread(target=serve, daemon=True)
    acceptor.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/hook"
    stop.set()
    acceptor.join(timeout=5)
    server.close()


@pytest.mark.timeout(30)
def test_a_trickling_webhook_is_given_up_on_at_its_time_limit(trickling_webhook: str) -> None:
    assert post_webhook(trickling_webhook, "alert", timeout_seconds=1.0) is False


@pytest.mark.slow
@pytest.mark.timeout(30)
def test_watch_once_exits_1_when_the_webhook_trickles(
    trickling_webhook: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, emulator: object
) -> None:
    from typer.testing import CliRunner

    from batchledger.cli import app
    from tests.conftest import TEST_API_KEY

    for name, value in {
        "TOGETHER_API_KEY": TEST_API_KEY,
        "TOGETHER_BASE_URL": emulator.base_url,  # type: ignore[attr-defined]
        "BATCHLEDGER_DB": str(tmp_path / "data" / "warehouse.duckdb"),
        "BATCHLEDGER_WEBHOOK_TIMEOUT_SECONDS": "1",
    }.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(
        app, ["watch", "--once", "--no-ingest", "--notify", trickling_webhook]
    )
    assert result.exit_code == 1
    assert "could not be delivered to the webhook" in result.stderr


CHECK = """
import resource, sys
from pathlib import Path
from batchledger.ops.validate import check_file
problems = [str(p) for p in check_file(Path(sys.argv[1])).problems]
print(problems)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_2gb_single_line_file_is_validated_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "huge.jsonl"
    with path.open("wb") as fh:
        fh.truncate(2 << 30)  # sparse: no disk used, 2 GB of one line without a newline
    out = subprocess.run(
        [sys.executable, "-c", CHECK, str(path)], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert "file is 2147483648 bytes; the limit is" in out[0]
    assert int(out[1]) < 400, f"peak RSS {out[1]} MB"


def test_a_line_over_the_line_limit_is_reported_not_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from batchledger.ops import validate

    monkeypatch.setattr(validate, "MAX_LINE_BYTES", 1000)
    good = '{"custom_id": "a", "body": {"model": "m", "messages": []}}\n'
    path = tmp_path / "long.jsonl"
    path.write_text(good + '{"custom_id": "' + "x" * 5000 + '"}\n' + good.replace('"a"', '"b"'))
    checked = check_file(path)
    assert [str(p) for p in checked.problems] == ["line 2: line is longer than 1000 bytes"]
    assert [r.custom_id for r in checked.requests] == ["a", "b"]
