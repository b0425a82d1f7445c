"""`batchledger invoice import`: load an invoice CSV for the tie-out (the work is in
invoices.py, store.py and ingest.rebuild_after_ops_change)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import duckdb
import typer
from rich.markup import escape
from rich.table import Table

from batchledger.cli.errors import console, friendly_errors

invoice_app = typer.Typer(
    help="Tie the marts out against Together's invoice.", no_args_is_help=True
)

MONTH_ROWS_SQL = """
select invoice_month, computed_billed_usd, invoiced_usd, difference_usd, difference_percent,
    within_tolerance, unpriced_items
from marts.invoice_reconciliation
where reconciliation_level = 'month'
    and strftime(invoice_month, '%Y-%m') in (select unnest($months))
order by invoice_month
"""


@invoice_app.command("import")
@friendly_errors
def invoice_import(
    file: Annotated[Path, typer.Argument(help="The invoice CSV.", show_default=False)],
    mapping: Annotated[
        list[str] | None,
        typer.Option(
            "--mapping",
            help="field=Header: read the field (month, description, model, amount_usd, "
            "currency) from another column; repeatable.",
        ),
    ] = None,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="Replace the months an earlier invoice file brought (or this file's lines, "
            "imported with another mapping).",
        ),
    ] = False,
) -> None:
    """Import an invoice CSV into raw_batchledger.invoice_lines and rebuild the tie-out.

    The generic layout is month, description, model, amount_usd, currency (prices/README.md
    and the README's "Closing a month"). A bad line refuses the whole file, naming each line;
    the same file again changes nothing; the same file with another --mapping that reads it
    differently, or a second file for a month already imported, needs --replace.
    marts.invoice_reconciliation then compares each month (and each model the invoice names)
    with the billed cost computed from the result files.

    Examples:
      batchledger invoice import together-2026-11.csv
      batchledger invoice import console-export.csv --mapping "month=Billing Month" \\
          --mapping "amount_usd=Amount (USD)" --mapping "description=Line Item"
    """
    from batchledger.ingest import IngestError, load_ops_store, rebuild_after_ops_change
    from batchledger.invoices import parse_mapping, read_invoice
    from batchledger.settings import demo_notice, load_settings, warehouse_to_read
    from batchledger.store import INVOICE_LINES_FILE, ops_dir, record_invoice, restore_store
    from batchledger.warehouse import ingest_lock, prepare_work_db

    invoice = read_invoice(file, parse_mapping(mapping or []))
    settings = warehouse_to_read(load_settings())
    if settings.demo:
        console.print(demo_notice(settings))
    months = ", ".join(sorted(invoice.months))
    name = escape(file.name)
    with ingest_lock(settings.work_dir):
        # The store as it was: put back if the rebuild fails, so that a refused import leaves
        # nothing behind (an invoice the marts cannot build must not block every later run).
        store = ops_dir(settings) / INVOICE_LINES_FILE
        before = store.read_bytes() if store.exists() else None
        done = record_invoice(
            settings,
            invoice,
            imported_at=datetime.now(UTC).isoformat(timespec="seconds"),
            replace=replace,
        )
        if done.outcome == "unchanged":
            console.print(f"{name} was already imported ({months}): nothing changed")
            return
        replaced = (
            f", replacing {escape(', '.join(done.replaced_files))}" if done.replaced_files else ""
        )
        console.print(f"Imported {done.lines} invoice line(s) for {months}{replaced}")
        work_db = None
        try:
            work_db = prepare_work_db(settings.work_dir, settings.db_path, create=False)
            if not work_db.exists():
                console.print(
                    "No warehouse built yet: `make ingest` loads the invoice with the rest"
                )
                return
            rebuild_after_ops_change(settings, work_db)
        except Exception as exc:
            restore_store(store, before)
            if work_db is not None and work_db.exists():
                load_ops_store(settings, work_db)  # the raw table follows the store back
            raise IngestError(
                f"{file.name}: the marts could not be rebuilt with this invoice ({exc}); "
                "nothing imported, the published warehouse is as it was"
            ) from None
    _print_months(settings.db_path, sorted(invoice.months))


def _print_months(db_path: Path, months: list[str]) -> None:
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        rows = con.execute(MONTH_ROWS_SQL, {"months": months}).fetchall()
    finally:
        con.close()
    table = Table(title="Invoice tie-out", title_justify="left")
    columns = ("month", "computed USD", "invoiced USD", "difference", "%", "unpriced", "within")
    for column in columns:
        table.add_column(column, justify="left" if column in ("month", "within") else "right")
    for month, computed, invoiced, difference, percent, within, unpriced in rows:
        # Unpriced items are usage the computed side leaves out: a month with some cannot be
        # said to tie out, whatever the difference.
        verdict = "yes" if within else "[red]NO[/]"
        if within and unpriced:
            verdict = "[yellow]yes, amounts only[/]"
        table.add_row(
            month.strftime("%Y-%m"),
            _usd(computed),
            _usd(invoiced),
            _usd(difference),
            f"{percent:.2f}" if percent is not None else "-",
            f"[red]{unpriced} items[/]" if unpriced else "0",
            verdict,
        )
    console.print(table)
    if any(row[6] for row in rows):
        console.print(
            "Unpriced items are left out of the computed cost (never $0): price them in "
            "prices/ before closing those months."
        )


def _usd(value: Decimal) -> str:
    return f"{value:,.6f}"
