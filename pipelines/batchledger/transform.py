"""Run the dbt project (dbt_project/) against a warehouse file, once per ingest.

dbt runs in a child process: dbt-duckdb keeps a process-wide connection open after it finishes,
which would stop this process from checkpointing and publishing the same file.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from batchledger.paths import DBT_PROJECT_DIR


@dataclass
class DbtOutcome:
    success: bool
    statuses: Counter[str] = field(default_factory=Counter)
    # "<node>: <message>" for every test that warned or failed and every node that errored.
    warnings: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    # The SQL of each test that failed, by node name: enough to ask the warehouse which rows
    # and which checks failed (build.py names the checks of an expressions_are_true test).
    failed_tests: dict[str, str] = field(default_factory=dict)


def node_name(unique_id: str) -> str:
    """The readable name of a node: `test.batchledger.unique_x_id.7e10f76dad` is a test named
    unique_x_id (the last part of a generic test's id is only a hash)."""
    parts = unique_id.split(".")
    if parts[0] in {"test", "unit_test"} and len(parts) >= 3:
        return parts[2] if parts[0] == "test" else ".".join(parts[2:])
    return parts[-1]


def dbt_project_exists() -> bool:
    return (DBT_PROJECT_DIR / "dbt_project.yml").exists()


def _die_with_parent() -> None:
    """Runs in the dbt child before exec: the kernel ends it when its parent dies, so a killed
    ingest never leaves a dbt build holding the working database."""
    PR_SET_PDEATHSIG = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class DbtChild:
    """One dbt command in a child process (batchledger/dbt_child.py).

    Started with `parse_first`, the child imports dbt and parses the project at once, while the
    caller goes on (the ingest downloads and loads meanwhile); `run` then hands it the command.
    Use it as a context manager: leaving without `run` ends the child, which does nothing."""

    def __init__(
        self,
        db_path: Path,
        *,
        artifacts_dir: Path,
        quiet: bool = True,
        parse_first: bool = False,
        cache_dir: Path | None = None,
    ) -> None:
        temp_dir = artifacts_dir / "duckdb_tmp"
        temp_dir.mkdir(parents=True, exist_ok=True)
        self.target = artifacts_dir / "target"
        self.target.mkdir(parents=True, exist_ok=True)
        # The child runs in the warehouse's folder and the profile gets paths relative to it:
        # dbt reuses a parse only for the same connection settings, so with absolute paths no
        # two warehouses could share one (see ParseCache).
        cwd = db_path.parent
        env = {
            **os.environ,
            "BATCHLEDGER_DBT_DB": db_path.name,
            "BATCHLEDGER_DBT_TEMP_DIR": os.path.relpath(temp_dir, cwd),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
        self._parse_cache = (
            ParseCache(cache_dir, self.target, env) if cache_dir is not None else None
        )
        if self._parse_cache is not None:
            self._parse_cache.seed()
        options = [
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(self.target),
            "--log-path",
            str(artifacts_dir / "logs"),
            # dbt's debug-level file log is ~100 lines per node: seconds per build to write.
            "--log-level-file",
            "info",
            *(["--quiet"] if quiet else []),
        ]
        # Results of an earlier command must never pass for this one's.
        (self.target / "run_results.json").unlink(missing_ok=True)
        command = [sys.executable, "-m", "batchledger.dbt_child"]
        if parse_first:
            command.append("--parse-first")
        self._process = subprocess.Popen(
            [*command, *options],
            env=env,
            cwd=cwd,
            stdin=subprocess.PIPE,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )

    def run(self, args: tuple[str, ...]) -> DbtOutcome:
        """Run one dbt command (e.g. `build`) in the child and wait for it."""
        stdin = self._process.stdin
        assert stdin is not None
        try:
            stdin.write(json.dumps({"args": list(args)}).encode() + b"\n")
            stdin.close()
        except BrokenPipeError:
            pass  # the child is gone: its exit status and missing results tell the story
        returncode = self._process.wait()
        self._keep_parse()
        return _outcome(returncode, self.target / "run_results.json")

    def _keep_parse(self) -> None:
        if self._parse_cache is not None:
            self._parse_cache.keep()

    def __enter__(self) -> DbtChild:
        return self

    def __exit__(self, *_: object) -> None:
        """End the child if `run` never gave it a command (no build was needed)."""
        if self._process.returncode is not None:
            return
        try:
            if self._process.stdin is not None:
                self._process.stdin.close()
            self._process.wait(timeout=10)
        except (BrokenPipeError, subprocess.TimeoutExpired):
            self._process.kill()
            self._process.wait()
            return
        self._keep_parse()


class ParseCache:
    """dbt's parse of the project, shared by every warehouse that uses one cache folder.

    dbt keeps its parse in `<target>/partial_parse.msgpack` and reuses it when the project,
    the dbt version, the vars and the connection settings are the same; parsing anew takes
    seconds of a core. A new warehouse (the first run, a second warehouse beside the demo,
    each test) has an empty target folder: it starts from the cached parse instead. dbt
    itself checks that the parse still fits and parses again when it does not, so a stale
    cache costs only the parse it would have cost anyway. Copies are best effort: a cache
    that cannot be read or written changes nothing but the time."""

    FILE = "partial_parse.msgpack"

    def __init__(self, folder: Path, target: Path, env: dict[str, str]) -> None:
        # One entry per project folder and per value the profile reads: dbt would refuse a
        # parse made with another, so they would only replace each other.
        rendered = [str(DBT_PROJECT_DIR.resolve())] + [
            f"{name}={env.get(name, '')}" for name in PROFILE_ENV
        ]
        key = hashlib.sha256("\0".join(rendered).encode()).hexdigest()[:16]
        self.cached = folder / f"partial_parse-{key}.msgpack"
        self.local = target / self.FILE

    def seed(self) -> None:
        if self.local.exists() or not self.cached.exists():
            return
        try:
            shutil.copyfile(self.cached, self.local)
        except OSError:
            self.local.unlink(missing_ok=True)

    def keep(self) -> None:
        """Offer this warehouse's parse to the next new one (atomically: another process may be
        reading the cached copy)."""
        try:
            if not self.local.exists():
                return
            parse = self.local.read_bytes()  # read once: compared, then written
            if _holds(self.cached, parse):
                return
            self.cached.parent.mkdir(parents=True, exist_ok=True)
            partial = self.cached.with_name(f"{self.cached.name}.{os.getpid()}.tmp")
            partial.write_bytes(parse)
            os.replace(partial, self.cached)
        except OSError:
            pass


# The environment variables profiles.yml renders into the connection settings.
PROFILE_ENV = (
    "BATCHLEDGER_DBT_DB",
    "BATCHLEDGER_DBT_TEMP_DIR",
    "BATCHLEDGER_DUCKDB_MEMORY_LIMIT",
    "BATCHLEDGER_DBT_DUCKDB_THREADS",
)


def _holds(path: Path, content: bytes) -> bool:
    """Whether `path` holds exactly `content` (its size first: most changes change it)."""
    if not path.exists() or path.stat().st_size != len(content):
        return False
    return path.read_bytes() == content


def run_dbt(
    db_path: Path,
    args: tuple[str, ...] = ("build",),
    *,
    artifacts_dir: Path,
    quiet: bool = True,
    cache_dir: Path | None = None,
) -> DbtOutcome:
    """Run one dbt command in a child (its start-up costs seconds, so once per ingest, not once
    per model)."""
    with DbtChild(db_path, artifacts_dir=artifacts_dir, quiet=quiet, cache_dir=cache_dir) as child:
        return child.run(args)


def _outcome(returncode: int, results_file: Path) -> DbtOutcome:
    outcome = DbtOutcome(success=returncode == 0)
    if not results_file.exists():
        outcome.failures.append(f"dbt exited with {returncode} before running any node")
        return outcome
    for result in json.loads(results_file.read_text()).get("results", []):
        status = str(result.get("status"))
        outcome.statuses[status] += 1
        node = node_name(str(result.get("unique_id", "?")))
        label = f"{node}: {result.get('message') or status}"
        if status == "warn":
            outcome.warnings.append(label)
        elif status in {"fail", "error"}:
            outcome.failures.append(label)
            if status == "fail" and result.get("compiled_code"):
                outcome.failed_tests[node] = str(result["compiled_code"])
    return outcome
