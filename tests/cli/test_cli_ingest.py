"""`batchledger` as a user runs it: real processes, one-line errors, documented exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from batchledger.emulator import Emulator
from tests.conftest import TEST_API_KEY


def run_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "batchledger.cli", *args],
        env={**os.environ, "COLUMNS": "120", **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_wrong_key_is_one_line_and_exit_code_3(emulator: Emulator, tmp_path: Path) -> None:
    result = run_cli(
        "ingest",
        "--no-build",
        env={
            "TOGETHER_API_KEY": "tgk-wrong",
            "TOGETHER_BASE_URL": emulator.base_url,
            "BATCHLEDGER_DB": str(tmp_path / "w.duckdb"),
        },
        cwd=tmp_path,
    )
    assert result.returncode == 3, result.stderr
    assert "check TOGETHER_API_KEY" in result.stderr
    assert "Traceback" not in result.stderr
    assert "tgk-wrong" not in result.stderr + result.stdout


@pytest.mark.slow
def test_unreachable_api_is_exit_code_5(tmp_path: Path) -> None:
    result = run_cli(
        "ingest",
        "--no-build",
        env={
            "TOGETHER_API_KEY": TEST_API_KEY,
            "TOGETHER_BASE_URL": "http://127.0.0.1:9",
            "BATCHLEDGER_DB": str(tmp_path / "w.duckdb"),
        },
        cwd=tmp_path,
    )
    assert result.returncode == 5, result.stderr
    assert "Could not reach Together" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_env_settings_and_dlt_toml(tmp_path: Path, monkeypatch: object) -> None:
    (tmp_path / ".dlt").mkdir()
    (tmp_path / ".dlt" / "config.toml").write_text(
        '[sources.together_batches]\nbase_url = "http://toml.example/v1"\ndb = "from_toml.duckdb"\n'
    )
    (tmp_path / ".dlt" / "secrets.toml").write_text(
        '[sources.together_batches]\napi_key = "key-from-toml"\n'
    )
    probe = (
        "from batchledger.settings import load_settings; s = load_settings(); "
        "print(s.base_url, s.db_path.name, s.api_key == 'key-from-toml')"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOGETHER_", "BATCHLEDGER_"))}
    from_toml = subprocess.run(
        [sys.executable, "-c", probe], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert from_toml.stdout.split() == ["http://toml.example/v1", "from_toml.duckdb", "True"]
    env["TOGETHER_BASE_URL"] = "http://env.example"
    env["TOGETHER_API_KEY"] = "key-from-env"
    from_env = subprocess.run(
        [sys.executable, "-c", probe], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert from_env.stdout.split() == ["http://env.example", "from_toml.duckdb", "False"]


def test_a_run_with_nothing_to_load_does_not_import_dlt(tmp_path: Path) -> None:
    """dlt takes ~2 s to import; the no-op path (settings, listing, planning, build state)
    must not pay for it. It is imported when a load or a dlt config file needs it."""
    probe = (
        "import sys\n"
        "import batchledger.cli, batchledger.ingest, batchledger.build, batchledger.warehouse\n"
        "from batchledger.settings import load_settings\n"
        "load_settings()\n"
        "print(sorted(m for m in sys.modules if m == 'dlt' or m.startswith('dlt.')))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("SOURCES__")}
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
