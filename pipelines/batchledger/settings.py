"""Runtime configuration: environment variables first, then dlt's `.dlt/*.toml` files."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from batchledger.together import DEFAULT_BASE_URL
from batchledger.together.deadline import Deadline
from batchledger.together.limits import RUN_LIMIT_LABEL, ClientLimits

# dlt's config section for everything batchledger reads from .dlt/*.toml.
DLT_SECTION = "sources.together_batches"
DEMO_DB = Path("data/demo.duckdb")
DEFAULT_DB = Path("data/warehouse.duckdb")


@dataclass(frozen=True)
class Settings:
    api_key: str | None
    base_url: str
    db_path: Path
    landing_dir: Path | None
    store_prompts: bool
    store_completions: bool
    download_concurrency: int
    # BATCHLEDGER_DB (or `db` in .dlt config) named the warehouse.
    db_configured: bool = False
    # True once the run has been pointed at the bundled emulator.
    demo: bool = False
    # Time limits, in seconds: a whole ingest, one API call, one file download or upload, one
    # webhook post (retries included in each). A hostile or stuck server cannot hold a cron
    # job, or the ingest lock, longer than these.
    run_timeout_seconds: float = 4 * 3600.0
    request_timeout_seconds: float = 300.0
    transfer_timeout_seconds: float = 1800.0
    webhook_timeout_seconds: float = 60.0
    # The largest JSON answer read from the API.
    max_response_mb: int = 64
    # The most dedicated endpoints read from GET /v1/endpoints (ClientLimits.max_endpoints):
    # a fixed, documented limit, a field so that tests can lower it.
    max_endpoints: int = ClientLimits.max_endpoints

    def client_limits(self) -> ClientLimits:
        return ClientLimits(
            request_seconds=self.request_timeout_seconds,
            transfer_seconds=self.transfer_timeout_seconds,
            max_json_bytes=self.max_response_mb << 20,
            max_endpoints=self.max_endpoints,
        )

    def run_deadline(self) -> Deadline:
        """Start the clock of one run; give it to the TogetherClient the run uses."""
        return Deadline.after(self.run_timeout_seconds, RUN_LIMIT_LABEL)

    @property
    def work_dir(self) -> Path:
        """Private to ingest: readers never open anything in here."""
        return self.db_path.parent / ".work" / self.db_path.stem

    def for_demo(self, base_url: str, api_key: str) -> Settings:
        """Demo data goes to its own file and landing folder so it never mixes with real data."""
        return replace(
            self,
            demo=True,
            api_key=api_key,
            base_url=base_url,
            db_path=DEMO_DB.resolve(),
            landing_dir=(DEMO_DB.parent / "demo_landing").resolve() if self.landing_dir else None,
        )


def _lookup(env: str, key: str, *, secret: bool = False) -> str | None:
    value = os.environ.get(env)
    if value:
        return value
    if not _dlt_config_present():
        return None
    import dlt  # ~2 s to import: only when it has somewhere to find a value

    provider = dlt.secrets if secret else dlt.config
    found: object = provider.get(f"{DLT_SECTION}.{key}")
    return str(found) if found not in (None, "") else None


def _dlt_config_present() -> bool:
    """Whether dlt's config could hold a batchledger key. A superset of where dlt looks, so no
    value is missed: any `SOURCES__*` or `DLT_*` variable (a moved config folder, a profile),
    a `.dlt/` folder in the project, a toml file in any folder dlt may take as its global one,
    or container secret files (`/run/secrets`). Without any of them, a run (a no-op run above
    all) does not pay for importing dlt (~2 s)."""
    if any(name.upper().startswith(("SOURCES__", "DLT_")) for name in os.environ):
        return True
    if (Path(".dlt")).exists() or Path("/run/secrets").exists():
        return True
    folders = [Path.home() / ".dlt", Path("/var/dlt"), Path(tempfile.gettempdir()) / "dlt"]
    if os.environ.get("XDG_DATA_HOME"):
        folders += [Path(os.environ["XDG_DATA_HOME"]), Path(os.environ["XDG_DATA_HOME"]) / "dlt"]
    return any(any(folder.glob("*.toml")) for folder in folders if folder.is_dir())


def _flag(env: str, key: str, default: bool) -> bool:
    value = _lookup(env, key)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _positive(env: str, key: str, default: float) -> float:
    value = _lookup(env, key)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not number > 0:
        raise ValueError(f"{env} must be a positive number, got {value!r}")
    return number


def load_settings() -> Settings:
    landing = _lookup("BATCHLEDGER_LANDING_DIR", "landing_dir") or "data/landing"
    keep_landing = _flag("BATCHLEDGER_KEEP_LANDING", "keep_landing", True)
    named_db = _lookup("BATCHLEDGER_DB", "db")
    return Settings(
        api_key=_lookup("TOGETHER_API_KEY", "api_key", secret=True),
        base_url=_lookup("TOGETHER_BASE_URL", "base_url") or DEFAULT_BASE_URL,
        db_path=Path(named_db or DEFAULT_DB).resolve(),
        db_configured=named_db is not None,
        landing_dir=Path(landing).resolve() if keep_landing else None,
        store_prompts=_flag("BATCHLEDGER_STORE_PROMPTS", "store_prompts", False),
        store_completions=_flag("BATCHLEDGER_STORE_COMPLETIONS", "store_completions", False),
        download_concurrency=int(
            _lookup("BATCHLEDGER_DOWNLOAD_CONCURRENCY", "download_concurrency") or 4
        ),
        run_timeout_seconds=_positive(
            "BATCHLEDGER_RUN_TIMEOUT_SECONDS", "run_timeout_seconds", 4 * 3600.0
        ),
        request_timeout_seconds=_positive(
            "BATCHLEDGER_REQUEST_TIMEOUT_SECONDS", "request_timeout_seconds", 300.0
        ),
        transfer_timeout_seconds=_positive(
            "BATCHLEDGER_TRANSFER_TIMEOUT_SECONDS", "transfer_timeout_seconds", 1800.0
        ),
        webhook_timeout_seconds=_positive(
            "BATCHLEDGER_WEBHOOK_TIMEOUT_SECONDS", "webhook_timeout_seconds", 60.0
        ),
        max_response_mb=int(_positive("BATCHLEDGER_MAX_RESPONSE_MB", "max_response_mb", 64)),
    )


def uses_demo(settings: Settings, *, ingest: bool) -> bool:
    """The one rule for demo or real data.

    `ingest` without TOGETHER_API_KEY always runs the bundled emulator into the demo file, so a
    newcomer's first `make ingest` works and never touches a real warehouse. Commands that read
    or rebuild a warehouse (transform, docs, status, reprocess) use the demo only when there is
    no key, no warehouse named by BATCHLEDGER_DB and none at the default path: a finance user
    who edits prices/ and runs `make transform` without the key rebuilds their own warehouse."""
    if settings.api_key is not None:
        return False
    if ingest:
        return True
    return not settings.db_configured and not settings.db_path.exists()


def warehouse_to_read(settings: Settings) -> Settings:
    """The warehouse a command that reads or rebuilds one acts on (transform, docs, status,
    reprocess): the configured one, or the demo's, with `demo` set, when uses_demo says so."""
    if uses_demo(settings, ingest=False):
        return settings.for_demo(settings.base_url, "")
    return settings


def demo_notice(demo: Settings) -> str:
    """What a command acting on the demo says first (rich markup)."""
    return (
        "[bold yellow]DEMO data[/]: no TOGETHER_API_KEY, and no warehouse named by "
        f"BATCHLEDGER_DB or at {DEFAULT_DB}; using {demo.db_path}."
    )


def parquet_marts_enabled() -> bool:
    """Whether each publish also writes the marts as Parquet (data/marts/<name>/): on unless
    BATCHLEDGER_PARQUET_MARTS is false. At 1M items it costs about 2 s per run that changed
    fct_batch_items; a run with nothing new costs nothing either way."""
    value = os.environ.get("BATCHLEDGER_PARQUET_MARTS", "true").strip().lower()
    return value not in {"0", "false", "no", "off"}


def duckdb_memory_limit() -> str:
    """DuckDB's memory limit in each process that writes the warehouse (the ingest's loads, the
    dbt child): past it DuckDB spills to disk, so every process stays under 1 GB."""
    return os.environ.get("BATCHLEDGER_DUCKDB_MEMORY_LIMIT") or "512MB"


def duckdb_threads() -> int:
    return int(os.environ.get("BATCHLEDGER_DUCKDB_THREADS") or 2)
