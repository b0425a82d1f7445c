"""`make docs` writes one HTML file that opens from disk, checked in headless Chromium (Debian's
`chromium`, which `make test` installs when missing)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SITE = REPO_ROOT / "dbt_project" / "target" / "static_index.html"


def render(url: str, *args: str) -> str:
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is missing: `make test` (target browser) installs it"
    completed = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            # Nothing may come from the network: the site must carry everything it needs.
            "--proxy-server=127.0.0.1:9",
            "--virtual-time-budget=15000",
            *args,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed.stdout


@pytest.mark.timeout(600)
def test_docs_is_one_file_that_renders_the_marts_from_disk(demo_db: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TOGETHER_API_KEY"}
    env["BATCHLEDGER_DB"] = str(demo_db)
    docs = subprocess.run(
        [str(Path(sys.executable).with_name("batchledger")), "docs"],
        cwd=tmp_path,
        env={**env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert docs.returncode == 0, docs.stdout[-2000:] + docs.stderr[-2000:]
    assert str(SITE) in docs.stdout and "no server needed" in docs.stdout

    # The landing page is the project's own overview, naming the marts to start with.
    landing = re.sub(r"<script.*?</script>", "", render(f"file://{SITE}", "--dump-dom"), flags=re.S)
    assert "what your together.ai batch jobs cost" in landing
    assert "cost_by_job" in landing and "budget_status" in landing

    page = render(f"file://{SITE}#!/model/model.batchledger.cost_by_job", "--dump-dom")
    # What the page drew, not the manifest it carries inside a script tag.
    drawn = re.sub(r"<script.*?</script>", "", page, flags=re.S)
    assert "One row per batch job" in drawn  # cost_by_job's description, rendered
    assert 'data-nav-unique-id="model.batchledger.fct_batch_items"' in drawn  # the tree
    shot = tmp_path / "docs.png"
    render(f"file://{SITE}#!/model/model.batchledger.cost_by_job", f"--screenshot={shot}")
    assert shot.stat().st_size > 20_000  # a drawn page, not a blank one
