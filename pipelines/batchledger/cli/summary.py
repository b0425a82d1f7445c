"""The summaries `ingest` and `transform` print: rich tables and flags for finance. The runs
themselves (batchledger.ingest, batchledger.build) return plain results; only the CLI knows a
console."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import duckdb
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from batchledger.build import BuildResult, dbt_artifacts_dir
from batchledger.flags import ISSUE_EFFECTS, UnpricedModel, data_quality_counts, unpriced_models
from batchledger.ingest import IngestResult
from batchledger.paths import DEMO_INVOICE
from batchledger.published import report_path
from batchledger.run_stats import peak_rss_mb
from batchledger.settings import Settings
from batchledger.transform import DbtOutcome
from batchledger.warehouse import work_db_path

BUILD_MODES = {
    "up_to_date": "up to date (nothing changed: no dbt build, no publish)",
    "incremental": "rebuilt the batches that changed, then published",
    "full": "full rebuild ({reason}), then published",
    "publish_only": "published (the published file was missing)",
}


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
