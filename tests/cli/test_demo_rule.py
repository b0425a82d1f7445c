"""The one rule for demo or real data (settings.uses_demo), case by case."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchledger.settings import load_settings, uses_demo


@pytest.mark.parametrize(
    ("key", "db_named", "default_exists", "ingest", "demo"),
    [
        # ingest: without a key it always runs the bundled emulator into the demo file.
        (True, False, False, True, False),
        (False, False, False, True, True),
        (False, True, False, True, True),
        (False, False, True, True, True),
        # Commands that read or rebuild a warehouse: the demo only when nothing names or holds
        # a real one.
        (True, False, False, False, False),
        (False, False, False, False, True),
        (False, True, False, False, False),
        (False, False, True, False, False),
        (False, True, True, False, False),
    ],
)
def test_demo_or_real(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    key: bool,
    db_named: bool,
    default_exists: bool,
    ingest: bool,
    demo: bool,
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("TOGETHER_API_KEY", "BATCHLEDGER_DB"):
        monkeypatch.delenv(name, raising=False)
    if key:
        monkeypatch.setenv("TOGETHER_API_KEY", "k")
    if db_named:
        # A warehouse named by BATCHLEDGER_DB counts even before its first ingest.
        monkeypatch.setenv("BATCHLEDGER_DB", str(tmp_path / "finance" / "spend.duckdb"))
    if default_exists:
        (tmp_path / "data").mkdir()
        (tmp_path / "data" / "warehouse.duckdb").write_bytes(b"")
    assert uses_demo(load_settings(), ingest=ingest) is demo


@pytest.mark.slow
def test_dlt_config_is_consulted_wherever_dlt_could_find_a_key(tmp_path: Path) -> None:
    """Only dlt's import is skipped, never a value: a moved config folder counts. A fresh
    interpreter, as a user's run is (dlt keeps its config providers once made)."""
    import os
    import subprocess
    import sys

    folder = tmp_path / "conf2"
    folder.mkdir()
    (folder / "secrets.toml").write_text('[sources.together_batches]\napi_key = "sk-real"\n')
    env = {k: v for k, v in os.environ.items() if k != "TOGETHER_API_KEY"}
    env["DLT_CONFIG_FOLDER"] = str(folder)
    probe = "from batchledger.settings import load_settings; print(load_settings().api_key)"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "sk-real"
