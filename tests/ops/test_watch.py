"""watch: three passes, one webhook receiver, every alert delivered exactly once."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from batchledger.emulator import Emulator
from batchledger.ops import watch
from batchledger.settings import Settings


class Receiver:
    def __init__(self, fail_first: int = 0) -> None:
        self.texts: list[str] = []
        self.fail_first = fail_first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.fail_first > 0:
                    receiver.fail_first -= 1
                    self.send_response(503)
                else:
                    receiver.texts.append(json.loads(body)["text"])
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver(fail_first=1)  # the first POST fails: delivery must retry
    thread = threading.Thread(target=found.server.serve_forever, daemon=True)
    thread.start()
    yield found
    found.server.shutdown()
    found.server.server_close()


def expected_alerts(emulator: Emulator) -> set[str]:
    now = emulator.now()
    keys = set()
    for job in emulator.jobs():
        status = job.status_at(now)
        if status in ("FAILED", "EXPIRED", "CANCELLED"):
            keys.add(f"{job.batch_id[:8]} ({job.model_id}) {status}")
        elif status == "COMPLETED" and any(i.outcome != "succeeded" for i in job.items):
            keys.add(f"{job.batch_id[:8]} ({job.model_id}) COMPLETED with")
    return keys


def test_three_passes_send_each_alert_exactly_once(
    cli: Any, ops_settings: Settings, emulator: Emulator, receiver: Receiver
) -> None:
    first = cli("watch", "--once", "--no-ingest", "--notify", receiver.url)
    assert first.exit_code == 0, first.stderr
    # Between passes the running job is cancelled: one new alert, nothing repeated.
    running = next(j for j in emulator.jobs() if j.status_at(emulator.now()) == "IN_PROGRESS")
    assert cli("cancel", running.batch_id).exit_code == 0
    emulator.advance(60)
    for _ in range(2):
        again = cli("watch", "--once", "--no-ingest", "--notify", receiver.url)
        assert again.exit_code == 0, again.stderr

    counts = Counter(receiver.texts)
    assert all(n == 1 for n in counts.values()), counts
    expected = expected_alerts(emulator)
    assert len(receiver.texts) == len(expected)
    for prefix in expected:
        assert sum(prefix in text for text in receiver.texts) == 1, prefix
    assert any(f"{running.batch_id[:8]}" in text and "CANCELLED" in text for text in counts)


def test_watch_ingests_when_jobs_end(
    cli: Any, ops_settings: Settings, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    monkeypatch.setattr(watch, "_ingest", lambda settings, console, ended: calls.append(ended))
    assert cli("watch", "--once").exit_code == 0
    assert cli("watch", "--once").exit_code == 0  # nothing ended since: no second ingest
    assert len(calls) == 1 and calls[0] > 0


def test_undelivered_alerts_are_retried_next_pass(
    cli: Any, ops_settings: Settings, emulator: Emulator
) -> None:
    dead = "http://127.0.0.1:9/hook"
    first = cli("watch", "--once", "--no-ingest", "--notify", dead)
    assert first.exit_code == 0 and "webhook delivery failed" in first.stdout
    state = json.loads((ops_settings.db_path.parent / ".ops" / "alerts.json").read_text())
    assert not [k for k in state["sent"] if not k.endswith(":checked")]


def test_watch_with_wrong_key_is_one_line(
    cli: Any, ops_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOGETHER_API_KEY", "wrong")
    result = cli("watch", "--once")
    assert result.exit_code == 3 and len(result.stderr.strip().splitlines()) == 1
