"""`batchledger invoice import` as finance runs it on their warehouse (no key needed): a bad file
is refused whole, a good one lands in raw_batchledger.invoice_lines and the tie-out at once,
the same file again changes nothing, a second file for a month needs --replace."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from batchledger.emulator import Emulator
from batchledger.invoices import read_invoice
from batchledger.paths import DEMO_INVOICE
from tests.cli.test_cli_ingest import run_cli
from tests.conftest import TEST_API_KEY
from tests.duck import query


def verdicts(db: Path) -> list[tuple[object, ...]]:
    return query(
        db,
        "select strftime(invoice_month, '%Y-%m'), reconciliation_level, model, invoiced_usd, "
        "within_tolerance from marts.invoice_reconciliation where invoice_lines > 0 order by all",
    )


@pytest.mark.slow
def test_invoice_import_end_to_end(emulator: Emulator, tmp_path: Path) -> None:
    db = tmp_path / "finance" / "spend.duckdb"
    ingest = run_cli(
        "ingest",
        env={
            "TOGETHER_API_KEY": TEST_API_KEY,
            "TOGETHER_BASE_URL": emulator.base_url,
            "BATCHLEDGER_DB": str(db),
        },
        cwd=tmp_path,
    )
    assert ingest.returncode == 0, ingest.stderr[-2000:]
    env = {k: v for k, v in os.environ.items() if k != "TOGETHER_API_KEY"}
    env["BATCHLEDGER_DB"] = str(db)
    store = db.parent / ".ops" / "spend" / "invoice_lines.csv"

    # 1. A bad line refuses the whole file: one message naming the file and line, exit 2.
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "month,description,amount_usd\n2026-10,ok,0.03\n2026-11,float,3.0e-2\n", encoding="utf-8"
    )
    refused = run_cli("invoice", "import", str(bad), env=env, cwd=tmp_path)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "bad.csv: line 3: amount '3.0e-2' is not a decimal number" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert not store.exists()
    assert query(db, "select count(*) from marts.invoice_reconciliation") == [(0,)]

    # 2. The demo's invoice on the demo account's jobs: October within tolerance, November not.
    done = run_cli("invoice", "import", str(DEMO_INVOICE), env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    out = " ".join(done.stdout.split())
    demo_lines = len(read_invoice(DEMO_INVOICE).lines)
    assert f"Imported {demo_lines} invoice line(s) for 2026-10, 2026-11" in out
    assert "DEMO" not in out
    # The first rows of the table the ingest created empty: no dlt warning about its columns.
    assert "WARNING" not in done.stderr, done.stderr
    assert "2026-10" in out and "NO" in out
    first = verdicts(db)
    assert [(month, level, within) for month, level, _, _, within in first if level == "month"] == [
        ("2026-10", "month", True),
        ("2026-11", "month", False),
    ]
    assert query(db, "select count(*) from raw_batchledger.invoice_lines") == [(demo_lines,)]

    # 3. The same file again: nothing changes, no duplicate line.
    again = run_cli("invoice", "import", str(DEMO_INVOICE), env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "already imported" in again.stdout
    assert query(db, "select count(*) from raw_batchledger.invoice_lines") == [(demo_lines,)]
    assert verdicts(db) == first

    # 4. A corrected November from another file: refused without --replace, then replaces
    # November only (October stays from the first file).
    corrected = tmp_path / "console.csv"
    corrected.write_text("Billing Month,Item,Cost\n2026-11-30,Batch inference,$0.03\n")
    mapping = ["--mapping", "month=Billing Month", "--mapping", "description=Item",
               "--mapping", "amount_usd=Cost"]  # fmt: skip
    clash = run_cli("invoice", "import", str(corrected), *mapping, env=env, cwd=tmp_path)
    assert clash.returncode == 2
    assert "2026-11 was already imported from together-invoice-demo.csv" in clash.stderr
    replaced = run_cli(
        "invoice", "import", str(corrected), *mapping, "--replace", env=env, cwd=tmp_path
    )
    assert replaced.returncode == 0, replaced.stdout + replaced.stderr
    rows = verdicts(db)
    assert [(month, level, str(usd)) for month, level, _, usd, _ in rows] == [
        ("2026-10", "month", "5.150000000000000000"),
        ("2026-11", "month", "0.030000000000000000"),
    ]
    assert query(db, "select count(*) from raw_batchledger.invoice_lines") == [(3,)]

    # The key was never written beside the warehouse.
    for path in db.parent.rglob("*"):
        if path.is_file() and path.suffix in {".csv", ".jsonl", ".json"}:
            assert TEST_API_KEY not in path.read_text(errors="replace"), path
