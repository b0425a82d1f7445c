"""Ops fixtures: the CLI with only the ops commands, environment pointing at the emulator."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from batchledger.cli.ops import register
from batchledger.emulator import Emulator, demo_scenario
from batchledger.ops import api, watch
from batchledger.settings import Settings
from tests.conftest import TEST_API_KEY, make_settings

LLAMA = "meta-llama/Llama-3.3-70B-Instruct-Turbo"


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    # A dead port must fail in milliseconds, not after the production backoff.
    monkeypatch.setattr(api, "RETRY_POLICY", api.RetryPolicy(max_attempts=1))
    monkeypatch.setattr(watch, "WEBHOOK_RETRY", watch.RetryPolicy(max_attempts=3, base_delay=0.0))
    # CliRunner has no terminal, so rich would hard-wrap cli.friendly_errors' line at 80 columns.
    from batchledger.cli import errors

    monkeypatch.setattr(errors.err_console, "soft_wrap", True)


@pytest.fixture
def fast_emulator() -> Iterator[Emulator]:
    # A virtual hour per real second: a small submitted job ends within a fraction of a second.
    with Emulator(scenario=demo_scenario(), api_key=TEST_API_KEY, time_scale=3600.0) as emu:
        yield emu


def point_env_at(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Settings:
    monkeypatch.setenv("TOGETHER_API_KEY", settings.api_key or "")
    monkeypatch.setenv("TOGETHER_BASE_URL", settings.base_url)
    monkeypatch.setenv("BATCHLEDGER_DB", str(settings.db_path))
    monkeypatch.setenv("BATCHLEDGER_LANDING_DIR", str(settings.landing_dir))
    return settings


@pytest.fixture
def ops_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, emulator: Emulator) -> Settings:
    return point_env_at(monkeypatch, make_settings(tmp_path, emulator.base_url or ""))


@pytest.fixture
def cli() -> Callable[..., object]:
    app = typer.Typer()
    register(app)
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> object:
        return runner.invoke(app, list(args), input=input)

    return invoke


def write_jsonl(path: Path, records: list[object]) -> Path:
    path.write_text(
        "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records),
        encoding="utf-8",
    )
    return path


def request(custom_id: str, model: str | None = LLAMA, max_tokens: int = 100) -> dict[str, object]:
    body: dict[str, object] = {
        "messages": [{"role": "user", "content": "x" * 400}],
        "max_tokens": max_tokens,
    }
    if model:
        body["model"] = model
    return {"custom_id": custom_id, "body": body}


class Receiver:
    """A Slack-compatible webhook receiver on loopback that records each text it accepts."""

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

    def __enter__(self) -> Receiver:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()
