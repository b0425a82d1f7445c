"""The `batchledger` command line: the only package that knows typer, the consoles and exit codes
(cli/errors.py); the commands call into the layers below and nothing imports this package."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from batchledger import __version__
from batchledger.cli.errors import console, friendly_errors
from batchledger.cli.invoice import invoice_app
from batchledger.cli.ops import register
from batchledger.settings import Settings

app = typer.Typer(
    name="batchledger",
    help="What together.ai batch-inference jobs really cost: ingest, price, operate.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
prices_app = typer.Typer(help="Maintain the dated price seed in prices/.", no_args_is_help=True)
app.add_typer(prices_app, name="prices")
export_app = typer.Typer(help="Export the marts for other tools.", no_args_is_help=True)
app.add_typer(export_app, name="export")
app.add_typer(invoice_app, name="invoice")


def _version(value: bool) -> None:
    if value:
        console.print(f"batchledger {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log HTTP retries.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # httpx logs every request at INFO; keep that for --verbose only.
    logging.getLogger("httpx").setLevel(logging.INFO if verbose else logging.WARNING)


@app.command()
@friendly_errors
def ingest(
    no_build: Annotated[
        bool, typer.Option("--no-build", help="Load raw tables only; skip the dbt build.")
    ] = False,
) -> None:
    """Load every batch job and its files into DuckDB, then build the marts.

    Without TOGETHER_API_KEY it runs the bundled emulator and writes data/demo.duckdb.

    Examples:
      batchledger ingest
      TOGETHER_API_KEY=... BATCHLEDGER_DB=/srv/ledger.duckdb batchledger ingest
    """
    from batchledger.cli.progress import load_progress
    from batchledger.cli.summary import print_summary
    from batchledger.ingest import run_ingest
    from batchledger.settings import load_settings

    with load_progress(console) as shown:
        result = run_ingest(load_settings(), build=not no_build, on_event=shown)
    print_summary(result, console)


def _working_copy() -> tuple[Settings, Path]:
    """Settings and working database of the warehouse a command reads or rebuilds: the
    configured one, or the demo's when the one rule (settings.uses_demo) says so."""
    from batchledger.ingest import IngestError
    from batchledger.settings import demo_notice, load_settings, warehouse_to_read
    from batchledger.warehouse import prepare_work_db

    settings = warehouse_to_read(load_settings())
    if settings.demo:
        console.print(demo_notice(settings))
    work_db = prepare_work_db(settings.work_dir, settings.db_path, create=False)
    if not work_db.exists():
        raise IngestError(f"Nothing built yet for {settings.db_path}: run `make ingest` first")
    return settings, work_db


@app.command()
@friendly_errors
def transform(
    full_refresh: Annotated[
        bool,
        typer.Option("--full-refresh", help="Rebuild every mart from the raw tables."),
    ] = False,
) -> None:
    """Build the marts against the last ingest, and publish the result.

    Use it after editing prices/ or dbt_project/: no API call is made. A change there
    rebuilds everything; with nothing changed it does nothing.

    Examples:
      batchledger transform
      batchledger transform --full-refresh
    """
    import time

    from batchledger.build import BuildError, build_and_publish, dbt_artifacts_dir
    from batchledger.cli.summary import print_transform_summary
    from batchledger.ingest import IngestError, quiet_third_parties
    from batchledger.run_stats import write_run_stats
    from batchledger.warehouse import ingest_lock

    quiet_third_parties()
    started = time.monotonic()
    settings, work_db = _working_copy()
    log = dbt_artifacts_dir(settings.work_dir) / "logs" / "dbt.log"
    console.print(f"Checking the marts of {settings.db_path} (dbt's log: {log})", soft_wrap=True)
    with ingest_lock(settings.work_dir):
        try:
            result = build_and_publish(
                work_db,
                settings.db_path,
                work_dir=settings.work_dir,
                ops_inputs=None,
                full_refresh=full_refresh,
            )
        except BuildError as exc:
            raise IngestError(f"{exc}\n  (dbt's full log: {log})") from None
    seconds = time.monotonic() - started
    write_run_stats(seconds, mode=result.mode, stages=result.stages)
    print_transform_summary(settings, result, work_db, seconds, console)


@app.command()
@friendly_errors
def reprocess(
    file_ids: Annotated[
        list[str] | None,
        typer.Option("--file", help="A file id to parse again (repeatable); default: all."),
    ] = None,
) -> None:
    """Parse landed files again, without the API, and rebuild the marts they feed.

    Use it after a batchledger upgrade changed how lines are read: their lines replace the old
    ones (quarantined lines that now parse are loaded), from data/landing, with no download.

    Examples:
      batchledger reprocess
      batchledger reprocess --file file-0123
    """
    from batchledger.cli.progress import load_progress
    from batchledger.cli.summary import print_summary
    from batchledger.reprocess import reprocess as run_reprocess

    settings, work_db = _working_copy()
    with load_progress(console) as shown:
        result = run_reprocess(settings, work_db, tuple(file_ids or ()), on_event=shown)
    print_summary(result, console)


@app.command()
@friendly_errors
def docs() -> None:
    """Generate the dbt docs site (models, columns, lineage, exposures) as one HTML file,
    dbt_project/target/static_index.html, that opens from disk with no server.

    Example:
      batchledger docs && xdg-open dbt_project/target/static_index.html
    """
    from batchledger.ingest import IngestError
    from batchledger.paths import DBT_PROJECT_DIR
    from batchledger.transform import run_dbt
    from batchledger.warehouse import ingest_lock

    settings, work_db = _working_copy()
    with ingest_lock(settings.work_dir):
        outcome = run_dbt(work_db, ("docs", "generate", "--static"), artifacts_dir=DBT_PROJECT_DIR)
    if not outcome.success:
        raise IngestError("dbt docs generate failed")
    site = DBT_PROJECT_DIR / "target" / "static_index.html"
    console.print(
        f"Docs written to {site}: one file with everything inlined. Open it in a browser, e.g. "
        f"[bold]xdg-open {site}[/] (or file://{site}); no server needed.",
        soft_wrap=True,
    )


def _month_option(value: str | None) -> Any:
    """--month YYYY-MM as the DATE of its first day (bad input: exit 2)."""
    from batchledger.published import parse_month

    if value is None:
        return None
    try:
        return parse_month(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


@app.command()
@friendly_errors
def report(
    month: Annotated[
        str | None,
        typer.Option("--month", help="Limit the report to one UTC month, YYYY-MM."),
    ] = None,
) -> None:
    """Write the spend report of the published warehouse: one HTML page with charts that
    opens from disk with no network (data/report.html; data/demo-report.html on the demo).

    Examples:
      batchledger report
      batchledger report --month 2026-11
    """
    from batchledger.published import published_warehouse, report_path
    from batchledger.report import write_report

    chosen = _month_option(month)
    published = published_warehouse()
    if published.notice:
        console.print(published.notice)
    page = write_report(
        published.db_path, report_path(published.db_path, chosen), month=chosen, demo=published.demo
    )
    console.print(
        f"Spend report written to {page}: open it in a browser (file://{page}); "
        "everything is inlined, no network needed.",
        soft_wrap=True,
    )


@export_app.command("focus")
@friendly_errors
def export_focus(
    out: Annotated[Path, typer.Option("--out", help="The file to write.")],
    file_format: Annotated[
        str, typer.Option("--format", help="parquet or csv.", case_sensitive=False)
    ] = "parquet",
    month: Annotated[
        str | None,
        typer.Option("--month", help="Only the charges of one UTC month, YYYY-MM."),
    ] = None,
) -> None:
    """Write marts.focus_charges as a FOCUS 1.2 cost and usage file for FinOps tools.

    Usage with no price is left out (FOCUS costs may not be null, and it is never $0): the
    command says how much, and lists it in <out stem>.unpriced.csv beside the file.

    Examples:
      batchledger export focus --format parquet --out focus.parquet
      batchledger export focus --format csv --month 2026-11 --out focus-2026-11.csv
    """
    from batchledger.focus import FORMATS, UnsafeOutput
    from batchledger.focus import export_focus as run_export
    from batchledger.published import published_warehouse

    fmt = file_format.lower()
    if fmt not in FORMATS:
        raise typer.BadParameter(f"--format must be parquet or csv, got {file_format!r}")
    chosen = _month_option(month)
    published = published_warehouse()
    if published.notice:
        console.print(published.notice)
    try:
        done = run_export(published.db_path, out, fmt, chosen)  # type: ignore[arg-type]
    except UnsafeOutput as error:
        raise typer.BadParameter(str(error), param_hint="--out") from None
    console.print(
        f"FOCUS {fmt} written to {done.path}: {done.rows:,} charge rows, "
        f"BilledCost {done.billed_cost:.6f} USD, ListCost {done.list_cost:.6f} USD.",
        soft_wrap=True,
    )
    if done.unpriced_items:
        console.print(
            f"[bold red]Left out, unpriced[/]: {done.unpriced_items:,} items, "
            f"{done.unpriced_tokens:,} tokens with no price (never $0); listed in "
            f"{done.unpriced_path}",
            soft_wrap=True,
        )
    else:
        console.print(f"No unpriced usage left out ({done.unpriced_path} has no rows).")


@app.command()
def emulator(
    port: Annotated[int, typer.Option(help="Port to listen on; 0 picks a free one.")] = 0,
    time_scale: Annotated[
        float, typer.Option(help="Virtual seconds per real second for job lifecycles.")
    ] = 60.0,
) -> None:
    """Run the Together-compatible emulator (demo data) on loopback until Ctrl-C.

    Example:
      batchledger emulator --port 0
      TOGETHER_BASE_URL=http://127.0.0.1:PORT TOGETHER_API_KEY=any batchledger ingest
    """
    from batchledger.emulator import serve

    serve(port=port, time_scale=time_scale)


@prices_app.command("refresh")
def prices_refresh(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show, do not write.")] = False,
) -> None:
    """Append dated serverless rows for Together prices that changed in genai-prices.

    Example:
      batchledger prices refresh --dry-run
    """
    from batchledger.prices_refresh import main as refresh_main

    raise typer.Exit(refresh_main(["--dry-run"] if dry_run else []))


register(app)
