"""`serve()` as the `batchledger emulator` command runs it: a subprocess printing its URL."""

from __future__ import annotations

import re
import select
import subprocess
import sys

import httpx


def test_serve_prints_its_url_and_stops_on_sigterm() -> None:
    code = "from batchledger.emulator import serve; serve()"
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 15)
        assert ready, "serve() printed nothing within 15 s"
        line = proc.stdout.readline().strip()
        match = re.fullmatch(
            r"Together emulator \(demo data\) listening on (http://127\.0\.0\.1:\d+)", line
        )
        assert match, line
        jobs = httpx.get(
            f"{match.group(1)}/v1/batches", headers={"Authorization": "Bearer demo"}
        ).json()
        assert len(jobs) == 13
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0, stderr
