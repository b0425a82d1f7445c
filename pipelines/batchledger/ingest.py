"""`make ingest`: extract and load with dlt, build the marts with dbt, publish, summarise."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from batchledger.build import (
    BuildError,
    BuildResult,
    build_and_publish,
    dbt_child,
)
from batchledger.build_state import ops_inputs_fingerprint, read_build_state
from batchledger.flags import UnpricedModel, data_quality_counts, unpriced_models
from batchledger.invoices import read_invoice
from batchledger.paths import DEMO_INVOICE
from batchledger.run_stats import write_run_stats
from batchledger.settings import Settings, duckdb_memory_limit, duckdb_threads, uses_demo
from batchledger.sources.batchledger_ops import settings as ops_source
from batchledger.sources.batchledger_ops.helpers import has_records
from batchledger.sources.together_batches.events import FileUnavailable, SourceEvent
from batchledger.sources.together_batches.helpers import IngestPlan, list_account
from batchledger.sources.together_batches.settings import DATASET_NAME, PIPELINE_NAME
from batchledger.store import (
    INVOICE_LINES_FILE,
    SUBMISSIONS_FILE,
    TAGS_FILE,
    invoice_lines_in,
    ops_dir,
    record_invoice,
)
from batchledger.together import TogetherClient
from batchledger.transform import DbtChild, DbtOutcome, dbt_project_exists
from batchledger.warehouse import (
    drop_load_staging,
    ingest_lock,
    prepare_work_db,
    publish,
    read_known_state,
    tables_in,
)

if TYPE_CHECKING:
    import dlt

# The ops store's files that marts read; alert state is not an input.
OPS_INPUT_FILES = (SUBMISSIONS_FILE, TAGS_FILE, INVOICE_LINES_FILE)

# A key the bundled emulator accepts; it is not a secret and never reaches the real API.
DEMO_API_KEY = "demo-emulator-key"


class IngestError(RuntimeError):
    """The run did not publish; the message says why."""


@dataclass(frozen=True)
class LoadStarted:
    """The load begins: this many files are pending."""

    files: int


@dataclass(frozen=True)
class LoadFinished:
    """The load is over (loaded or failed)."""


@dataclass(frozen=True)
class DemoStarted:
    """No key: the run goes to the bundled emulator, and its output to the demo's own file."""

    base_url: str
    db_path: Path


# What a caller (the CLI's progress bar) may follow while a run loads; plain values.
LoadEvent = DemoStarted | LoadStarted | LoadFinished | SourceEvent
OnLoadEvent = Callable[[LoadEvent], None]


@dataclass(frozen=True)
class IngestReport:
    """The run's figures for the summary, read after the load from what it wrote (file_loads,
    quarantine and the status timeline of the run's load packages), never counted along."""

    batches: list[dict[str, Any]] = field(default_factory=list)
    status_changes: int = 0
    files_loaded: int = 0
    bytes_loaded: int = 0
    lines: dict[str, int] = field(default_factory=dict)
    quarantined: int = 0
    quarantine_examples: list[str] = field(default_factory=list)
    unavailable_files: list[str] = field(default_factory=list)
    # One line per object the client skipped or repaired (no usable id, a field of the wrong
    # type, a key that would overwrite a known column).
    api_warnings: list[str] = field(default_factory=list)


@dataclass
class IngestResult:
    settings: Settings
    report: IngestReport
    build: BuildResult | None
    seconds: float
    unpriced_models: list[UnpricedModel] = field(default_factory=list)
    data_quality: list[tuple[str, int]] = field(default_factory=list)
    stages: dict[str, float] = field(default_factory=dict)

    @property
    def dbt(self) -> DbtOutcome | None:
        return self.build.dbt if self.build is not None else None

    @property
    def up_to_date(self) -> bool:
        """Nothing new anywhere: no load, no dbt work, no publish."""
        return self.build is not None and self.build.mode == "up_to_date"


def quiet_third_parties() -> None:
    """No telemetry from dlt or dbt: this machine, and many of our users', has no route out."""
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")


@contextmanager
def demo_emulator() -> Iterator[str]:
    from batchledger.emulator import Emulator, demo_scenario

    emulator = Emulator(scenario=demo_scenario())
    base_url = emulator.start()
    try:
        yield base_url
    finally:
        emulator.stop()


def run_ingest(
    settings: Settings,
    *,
    build: bool = True,
    on_event: OnLoadEvent | None = None,
) -> IngestResult:
    """One full run. Demo mode (no key) starts the bundled emulator and writes data/demo.duckdb.
    `on_event` follows the load (files pending, each file parsed or unavailable).

    Every stage costs what changed: jobs, files and lines already in the warehouse are not
    written again, the ops store is loaded only when its files changed, and the marts are
    rebuilt only for the batches that new loads touched (nothing at all when nothing changed).
    """
    quiet_third_parties()
    started = time.monotonic()
    stages: dict[str, float] = {}
    emulator = demo_emulator() if uses_demo(settings, ingest=True) else nullcontext(None)
    with emulator as demo_url:
        if demo_url is not None:
            settings = settings.for_demo(demo_url, DEMO_API_KEY)
            if on_event is not None:
                on_event(DemoStarted(demo_url, settings.db_path))
        assert settings.api_key is not None
        with ingest_lock(settings.work_dir), ExitStack() as children:
            work_db = prepare_work_db(settings.work_dir, settings.db_path)
            building = build and dbt_project_exists()
            warm_dbt: DbtChild | None = None
            with TogetherClient(
                settings.api_key,
                settings.base_url,
                limits=settings.client_limits(),
                deadline=settings.run_deadline(),
            ) as client:
                mark = time.monotonic()
                plan = list_account(client, read_known_state(work_db))
                report = IngestReport(batches=plan.batches)
                stages["list"] = time.monotonic() - mark
                if building and not plan.is_empty:
                    # New data means a build: dbt imports and parses the project in its own
                    # process while this one downloads and loads (seconds of a core saved).
                    warm_dbt = children.enter_context(
                        dbt_child(work_db, settings.work_dir, parse_first=True)
                    )
                if not plan.is_empty:
                    mark = time.monotonic()
                    report = load_raw(settings, work_db, client, plan, on_event)
                    stages["load"] = time.monotonic() - mark
                report = replace(report, api_warnings=[*plan.warnings, *client.warnings])
            if settings.demo:
                seed_demo_invoice(settings)
            ops_inputs = load_ops_store(settings, work_db)
            result = IngestResult(
                settings=settings, report=report, build=None, seconds=0.0, stages=stages
            )
            if building:
                try:
                    result.build = build_and_publish(
                        work_db,
                        settings.db_path,
                        work_dir=settings.work_dir,
                        ops_inputs=ops_inputs,
                        dbt=warm_dbt,
                    )
                except BuildError as exc:
                    raise IngestError(str(exc)) from None
                stages.update(result.build.stages)
                result.unpriced_models = unpriced_models(work_db)
                result.data_quality = data_quality_counts(work_db)
            elif not plan.is_empty or not settings.db_path.exists():
                publish(work_db, settings.db_path)
    result.seconds = time.monotonic() - started
    write_run_stats(
        result.seconds,
        mode=result.build.mode if result.build is not None else None,
        stages=stages,
    )
    return result


def _pipeline(settings: Settings, work_db: Path, name: str, dataset: str) -> dlt.Pipeline:
    """A dlt pipeline into the working database, its state kept beside it (not in ~/.dlt).

    DuckDB gets an explicit memory limit, thread count and spill folder, so loading a file of
    any size keeps the ingest process's memory bounded."""
    # dlt is imported here, not at the top: it takes ~2 s, and a run with nothing new never
    # loads anything.
    import dlt
    from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

    # Arrow items (file lines) get `_dlt_load_id` too: incremental builds and publishing find
    # the lines written since a given load by it.
    os.environ["NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID"] = "true"
    # One transformer after the other, not interleaved (dlt's default): each line transformer
    # holds a download pool and a parse connection, and download_concurrency is the run's total.
    os.environ["EXTRACT__NEXT_ITEM_MODE"] = "fifo"
    spill = settings.work_dir / "duckdb_tmp"
    spill.mkdir(parents=True, exist_ok=True)
    credentials = DuckDbCredentials(
        str(work_db),
        global_config={
            "memory_limit": duckdb_memory_limit(),
            "threads": duckdb_threads(),
            "temp_directory": str(spill),
        },
    )
    return dlt.pipeline(
        pipeline_name=name,
        destination=dlt.destinations.duckdb(credentials=credentials),
        dataset_name=dataset,
        pipelines_dir=str(settings.work_dir / "dlt"),
    )


def load_raw(
    settings: Settings,
    work_db: Path,
    client: TogetherClient | None,
    plan: IngestPlan,
    on_event: OnLoadEvent | None = None,
) -> IngestReport:
    """Load what `plan` found new into the working database with dlt (without a client, from
    the landing folder only), and report what the load wrote."""
    from batchledger.sources.together_batches import SourceOptions, together_batches

    pipeline = _pipeline(settings, work_db, PIPELINE_NAME, DATASET_NAME)
    scratch = settings.work_dir / "scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    unavailable: list[str] = []

    def told(event: SourceEvent) -> None:
        if isinstance(event, FileUnavailable):
            unavailable.append(event.reason)
        if on_event:
            on_event(event)

    options = SourceOptions(
        landing_dir=settings.landing_dir,
        scratch_dir=scratch,
        store_prompts=settings.store_prompts,
        store_completions=settings.store_completions,
        download_concurrency=settings.download_concurrency,
        on_event=told,
    )
    if on_event:
        on_event(LoadStarted(files=len(plan.pending)))
    try:
        info = pipeline.run(together_batches(client, plan, options), loader_file_format="parquet")
    finally:
        if on_event:
            on_event(LoadFinished())
    drop_load_staging(work_db, (DATASET_NAME,))
    return replace(
        loaded_by(work_db, info.loads_ids), batches=plan.batches, unavailable_files=unavailable
    )


# Each line table's lines, by the file_loads row of their file.
_LINES_BY_TABLE = f"""
select
    case when file_kind = 'input' then 'batch_requests' else 'batch_results' end as line_table,
    count(*) as files,
    sum(content_bytes) as bytes,
    sum(lines_loaded) as lines,
    sum(lines_quarantined) as quarantined,
from {DATASET_NAME}.file_loads
where _dlt_load_id in (select unnest($loads))
group by all
order by line_table
"""
_QUARANTINE_EXAMPLES = f"""
select count(*) as lines, file_kind, file_id, error,
from {DATASET_NAME}.quarantine
where _dlt_load_id in (select unnest($loads))
group by all
order by file_id, error
limit 50
"""
_STATUS_CHANGES = f"""
select count(*)
from {DATASET_NAME}.batch_status_history
where _dlt_load_id in (select unnest($loads))
"""


def loaded_by(work_db: Path, load_ids: list[str]) -> IngestReport:
    """The figures of the load packages `load_ids` (dlt's load info of the run), read from the
    rows they wrote: one file_loads row per file, with its bytes and line counts."""
    con = duckdb.connect(str(work_db), read_only=True)
    try:
        params = {"loads": load_ids}
        by_table = con.execute(_LINES_BY_TABLE, params).fetchall()
        examples = con.execute(_QUARANTINE_EXAMPLES, params).fetchall()
        changes = con.execute(_STATUS_CHANGES, params).fetchone()
    finally:
        con.close()
    return IngestReport(
        status_changes=int(changes[0]) if changes else 0,
        files_loaded=sum(int(files) for _, files, _, _, _ in by_table),
        bytes_loaded=sum(int(size) for _, _, size, _, _ in by_table),
        lines={str(table): int(lines) for table, _, _, lines, _ in by_table},
        quarantined=sum(int(quarantined) for *_, quarantined in by_table),
        quarantine_examples=[
            f"{lines} line(s) of {kind} file {file_id}: {error}"
            for lines, kind, file_id, error in examples
        ],
    )


def load_ops_store(settings: Settings, work_db: Path) -> str:
    """Load what `submit` and `retry --submit` recorded (tags, lineage) into raw_batchledger,
    when those files changed since the last build. Returns their fingerprint."""
    folder = ops_dir(settings)
    fingerprint = ops_inputs_fingerprint(folder, OPS_INPUT_FILES)
    previous = read_build_state(settings.work_dir)
    changed = has_records(folder) and (previous is None or previous.ops_inputs != fingerprint)
    if changed or ops_source.RAW_TABLES - tables_in(work_db, ops_source.DATASET_NAME):
        # Also on the first run of a store with no record, to create its tables empty.
        from batchledger.sources.batchledger_ops import batchledger_ops

        pipeline = _pipeline(settings, work_db, ops_source.PIPELINE_NAME, ops_source.DATASET_NAME)
        pipeline.run(batchledger_ops(folder))
        drop_load_staging(work_db, (ops_source.DATASET_NAME,))
    return fingerprint


def seed_demo_invoice(settings: Settings) -> None:
    """The demo's ops store gets the bundled invoice (emulator/data/), once: the invoice tie-out
    then has rows to show. A real warehouse never gets it."""
    if invoice_lines_in(ops_dir(settings)):
        return
    invoice = read_invoice(DEMO_INVOICE)
    record_invoice(settings, invoice, imported_at=datetime.now(UTC).isoformat(timespec="seconds"))


def rebuild_after_ops_change(settings: Settings, work_db: Path) -> BuildResult:
    """Load the ops store (an invoice import just changed it) and bring the marts up to date:
    the load is new, so the build is incremental, and the invoice mart is rebuilt."""
    ops_inputs = load_ops_store(settings, work_db)
    return build_and_publish(
        work_db, settings.db_path, work_dir=settings.work_dir, ops_inputs=ops_inputs
    )
