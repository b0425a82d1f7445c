"""An invoice the marts cannot be rebuilt with is undone: the ops store and the raw table go
back to what they were, so it cannot block every later run."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from batchledger import ingest
from batchledger.cli import app
from batchledger.invoices import read_invoice
from batchledger.settings import load_settings, warehouse_to_read
from batchledger.store import INVOICE_LINES_FILE, ops_dir, record_invoice
from batchledger.warehouse import work_db_path


def test_a_failed_rebuild_undoes_the_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BATCHLEDGER_DB", str(tmp_path / "finance" / "spend.duckdb"))
    monkeypatch.delenv("TOGETHER_API_KEY", raising=False)
    settings = warehouse_to_read(load_settings())
    work_db = work_db_path(settings.work_dir)
    work_db.parent.mkdir(parents=True)
    duckdb.connect(str(work_db)).close()  # a warehouse was built: the import rebuilds it
    store = ops_dir(settings) / INVOICE_LINES_FILE
    october = tmp_path / "oct.csv"
    october.write_text("month,description,amount_usd\n2026-10,Batch,1.00\n", encoding="utf-8")
    record_invoice(settings, read_invoice(october), imported_at="2026-11-02T00:00:00+00:00")
    before = store.read_bytes()

    reloaded: list[Path] = []

    def failing_rebuild(*_: object) -> None:
        raise RuntimeError("Conversion Error: out of range")

    monkeypatch.setattr(ingest, "rebuild_after_ops_change", failing_rebuild)
    monkeypatch.setattr(ingest, "load_ops_store", lambda _, db: reloaded.append(db) or "")
    november = tmp_path / "nov[red].csv"  # rich markup in a name must print as written
    november.write_text("month,description,amount_usd\n2026-11,Batch,2.00\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["invoice", "import", str(november)])

    assert result.exit_code == 1, result.output
    assert "nov[red].csv: the marts could not be rebuilt with this invoice" in result.output
    assert "nothing imported" in result.output and "Traceback" not in result.output
    assert store.read_bytes() == before  # October alone, byte for byte
    assert reloaded == [work_db]  # the raw table follows the store back

    # With no store before, a failed first import leaves none.
    store.unlink()
    result = CliRunner().invoke(app, ["invoice", "import", str(november)])
    assert result.exit_code == 1, result.output
    assert not store.exists()
