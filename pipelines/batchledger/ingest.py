"""`make ingest`: extract and load with dlt, build the marts with dbt, publish, summarise."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from batchledger.build import (
    BuildError,
    BuildResult,
    build_and_publish,
    dbt_artifacts_dir,
    dbt_child,
)
from batchledger.build_state import ops_inputs_fingerprint, read_build_state
from batchledger.flags import ISSUE_EFFECTS, UnpricedModel, data_quality_counts, unpriced_models
from batchledger.invoices import read_invoice
from batchledger.paths import DEMO_INVOICE
from batchledger.published import report_path
from batchledger.run_stats import peak_rss_mb, write_run_stats
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
    work_db_path,
)

if TYPE_CHECKING:
    import dlt

BUILD_MODES = {
    "up_to_date": "up to date (nothing changed: no dbt build, no publish)",
    "incremental": "rebuilt the batches that changed, then published",
    "full": "full rebuild ({reason}), then published",
    "publish_only": "published (the published file was missing)",
}
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


# What a caller (the CLI's progress bar) may follow while a run loads; plain values.
LoadEvent = LoadStarted | LoadFinished | SourceEvent
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
    console: Console,
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
            console.print(
                "[bold yellow]No TOGETHER_API_KEY set: running on the bundled Together emulator "
                f"with DEMO data[/] ({demo_url}). Output goes to {settings.db_path}, "
                "never to a real warehouse."
            )
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


def print_summary(result: IngestResult, console: Console) -> None:
    report = result.report
    statuses = Counter(str(b.get("status")) for b in report.batches)
    table = Table(title="Ingest summary", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    table.add_row(
        "Jobs",
        f"{len(report.batches)}  ("
        + ", ".join(f"{status.lower()} {n}" for status, n in sorted(statuses.items()))
        + ")",
    )
    table.add_row("Status changes", str(report.status_changes))
    table.add_row(
        "Files loaded",
        f"{report.files_loaded}  ({report.bytes_loaded / 1e6:.2f} MB)",
    )
    table.add_row(
        "Lines loaded",
        ", ".join(f"{name} {n}" for name, n in sorted(report.lines.items())) or "0",
    )
    table.add_row("Lines quarantined", str(report.quarantined))
    if result.build is not None:
        table.add_row("Marts", describe_build(result.build))
    if result.dbt is not None:
        # Exposures report "no-op": they document the finance queries, they build nothing.
        shown = {k: v for k, v in result.dbt.statuses.items() if k != "no-op"}
        table.add_row("dbt build", ", ".join(f"{k} {v}" for k, v in sorted(shown.items())))
    table.add_row("Warehouse", str(result.settings.db_path))
    stages = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in result.stages.items())
    table.add_row("Time", f"{result.seconds:.1f} s" + (f"  ({stages})" if stages else ""))
    console.print(table)
    if result.up_to_date:
        console.print("[green]Up to date:[/] nothing changed since the last build.")
    peaks = peak_rss_mb(dbt_ran=result.dbt is not None)
    console.print(
        f"Peak memory: ingest {peaks['ingest']:,.0f} MB"
        + (f", dbt {peaks['dbt']:,.0f} MB" if peaks["dbt"] else ""),
        style="dim",
    )
    if result.dbt is not None:
        print_warned_tests(result.dbt, work_db_path(result.settings.work_dir), console)
    for line in report.quarantine_examples[:10]:
        console.print(f"[yellow]quarantined:[/] {line} (see raw_together.quarantine)")
    for line in report.api_warnings[:10]:
        console.print(f"[yellow]skipped from the API's answer:[/] {line}")
    for line in report.unavailable_files:
        console.print(f"[yellow]not downloaded:[/] {line}; it will be tried again next run")
    print_flags(result.unpriced_models, result.data_quality, console)
    if result.settings.demo:
        console.print("[bold yellow]This is DEMO data from the bundled emulator.[/]")
        # Said, because a real warehouse never gets it: the tie-out rows come from it.
        console.print(
            "The demo's sample invoice (pipelines/batchledger/emulator/data/"
            f"{DEMO_INVOICE.name}) is imported for marts.invoice_reconciliation.",
            soft_wrap=True,
        )
    console.print(
        f"See the spend as a page: [bold]make report[/] (writes "
        f"{report_path(result.settings.db_path)})",
        soft_wrap=True,
    )


def describe_build(build: BuildResult) -> str:
    """What the build did, in words (with why, for a full one)."""
    return BUILD_MODES[build.mode].format(reason=build.reason or "first build")


def print_flags(
    unpriced: list[UnpricedModel], data_quality: list[tuple[str, int]], console: Console
) -> None:
    """What finance must know after any build: unpriced models and odd provider lines."""
    if unpriced:
        console.print(
            "[bold red]UNPRICED MODELS[/bold red]: these items have no price in prices/ and are "
            "counted with cost NULL, not $0:"
        )
        for entry in unpriced:
            where = (
                "add the billing window that covers them to"
                if entry.is_dedicated
                else "add its price to"
            )
            console.print(
                f"  [red]{escape(entry.model)}[/red]: {entry.items} item(s); {where} "
                f"{entry.price_file}",
                soft_wrap=True,
            )
    if data_quality:
        console.print(
            "[bold yellow]DATA QUALITY[/bold yellow]: odd lines from the provider, handled by rule "
            "and listed in marts.data_quality_issues:"
        )
        for issue, lines in data_quality:
            effect = ISSUE_EFFECTS.get(issue, "see the mart")
            console.print(f"  [yellow]{issue}[/yellow]: {lines} line(s), {effect}")


def print_transform_summary(
    settings: Settings, build: BuildResult, work_db: Path, seconds: float, console: Console
) -> None:
    """`transform`'s summary in the style of ingest's; dbt's own log stays in its file."""
    table = Table(title="Transform summary", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    table.add_row("Marts", describe_build(build))
    if build.dbt is not None:
        shown = {k: v for k, v in build.dbt.statuses.items() if k != "no-op"}
        table.add_row("dbt build", ", ".join(f"{k} {v}" for k, v in sorted(shown.items())))
        table.add_row("dbt log", str(dbt_artifacts_dir(settings.work_dir) / "logs" / "dbt.log"))
    table.add_row("Warehouse", str(settings.db_path) + ("  (DEMO data)" if settings.demo else ""))
    stages = ", ".join(f"{name} {s:.1f} s" for name, s in build.stages.items())
    table.add_row("Time", f"{seconds:.1f} s" + (f"  ({stages})" if stages else ""))
    console.print(table)
    if build.dbt is not None:
        print_warned_tests(build.dbt, work_db, console)
        print_flags(unpriced_models(work_db), data_quality_counts(work_db), console)


def print_warned_tests(dbt: DbtOutcome, work_db: Path, console: Console) -> None:
    """Each dbt test that warned, by name, with the query for its rows when dbt stored them."""
    if not dbt.warnings:
        return
    stored = _stored_failures(work_db)
    for warning in dbt.warnings:
        test = warning.split(":", 1)[0]
        hint = f"; its rows: select * from audit.{test}" if test in stored else ""
        console.print(f"[yellow]warned:[/] {warning}{hint}", soft_wrap=True)


def _stored_failures(work_db: Path) -> set[str]:
    """Tests whose failing rows dbt stored (store_failures) in the `audit` schema."""
    con = duckdb.connect(str(work_db), read_only=True)
    try:
        rows = con.execute(
            "select table_name from duckdb_tables() where schema_name = 'audit'"
        ).fetchall()
    finally:
        con.close()
    return {str(row[0]) for row in rows}
