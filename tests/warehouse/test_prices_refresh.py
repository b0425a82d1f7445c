"""`python -m batchledger.prices_refresh`: appends dated rows, never rewrites one."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from batchledger.prices_refresh import (
    CatalogPrice,
    append_rows,
    main,
    plan_refresh,
    refresh,
    together_catalog,
)
from batchledger.pricing import PRICE_COLUMNS, read_price_rows, row_in_force

from .conftest import PRICE_CSV
from .raw_fixture import LLAMA

HEADER = ",".join(PRICE_COLUMNS)
SOURCE = "genai-prices 9.9.9"
AS_OF = date(2026, 12, 1)


def write_csv(path: Path, *lines: str, final_newline: bool = True) -> Path:
    path.write_text("\n".join([HEADER, *lines]) + ("\n" if final_newline else ""))
    return path


def catalog(model: str, rates: tuple[str | None, str | None, str | None]) -> CatalogPrice:
    return CatalogPrice(model, *(Decimal(rate) if rate else None for rate in rates))


def plan(path: Path, *prices: CatalogPrice) -> list:
    return plan_refresh(read_price_rows(path), list(prices), AS_OF, SOURCE)


def test_unchanged_price_appends_nothing(tmp_path: Path) -> None:
    csv_path = write_csv(
        tmp_path / "p.csv", "together,m,serverless,0.3,1.2,0.006,2025-01-01,,genai-prices 0.2.3"
    )
    [decision] = plan(csv_path, catalog("m", ("0.30", "1.2", "0.006")))
    assert decision.action == "unchanged" and decision.row is None


def test_changed_price_becomes_a_new_dated_row(tmp_path: Path) -> None:
    old_line = "together,m,serverless,0.88,0.88,,2025-01-01,,genai-prices 0.2.3"
    csv_path = write_csv(tmp_path / "p.csv", old_line)
    before = csv_path.read_bytes()
    [decision] = plan(csv_path, catalog("m", ("0.8", "0.9", None)))
    assert decision.action == "append"
    assert decision.row is not None
    assert decision.row.to_csv_fields() == [
        "together", "m", "serverless", "0.8", "0.9", "", "2026-12-01", "", SOURCE, "",
    ]  # fmt: skip

    append_rows(csv_path, [decision.row])
    after = csv_path.read_bytes()
    assert after.startswith(before), "an existing line was rewritten"
    rows = read_price_rows(csv_path)
    assert rows[0].valid_to is None, "the old row keeps its empty valid_to"
    key = ("together", "m", "serverless")
    before_change = row_in_force(rows, key, date(2026, 11, 30))
    after_change = row_in_force(rows, key, AS_OF)
    assert before_change is not None and before_change.usd_per_million_input_tokens == Decimal(
        "0.88"
    )
    assert after_change is not None and after_change.usd_per_million_input_tokens == Decimal("0.8")


def test_hand_chosen_row_is_kept_and_reported(tmp_path: Path) -> None:
    csv_path = write_csv(
        tmp_path / "p.csv", "together,m,serverless,0.6,0.6,,2025-01-01,,litellm 1.110.2 (chosen)"
    )
    [decision] = plan(csv_path, catalog("m", ("0.9", "0.9", None)))
    assert decision.action == "kept" and decision.row is None
    assert "litellm" in decision.reason and "0.9/0.9" in decision.reason


def test_new_model_is_appended(tmp_path: Path) -> None:
    csv_path = write_csv(tmp_path / "p.csv")
    [decision] = plan(csv_path, catalog("new/model", ("0.1", "0.2", None)))
    assert decision.action == "append" and decision.reason == "new model"
    assert decision.row is not None and decision.row.valid_from == AS_OF


def test_model_without_output_rate_is_skipped(tmp_path: Path) -> None:
    csv_path = write_csv(tmp_path / "p.csv")
    [decision] = plan(csv_path, catalog("embed/model", ("0.1", None, None)))
    assert decision.action == "skipped" and decision.row is None


def test_figure_missing_from_genai_prices_is_carried_forward(tmp_path: Path) -> None:
    csv_path = write_csv(
        tmp_path / "p.csv",
        "together,m,serverless,0.2,0.6,0.02,2025-01-01,,genai-prices 0.2.3 (cached from litellm)",
    )
    [decision] = plan(csv_path, catalog("m", ("0.25", "0.6", None)))
    assert decision.row is not None
    assert decision.row.usd_per_million_cached_input_tokens == Decimal("0.02")
    assert decision.row.usd_per_million_input_tokens == Decimal("0.25")
    assert "cached rate carried" in decision.row.source


def test_row_already_starting_on_the_date_is_left_alone(tmp_path: Path) -> None:
    csv_path = write_csv(
        tmp_path / "p.csv", "together,m,serverless,0.3,0.3,,2026-12-01,,genai-prices 0.2.3"
    )
    [decision] = plan(csv_path, catalog("m", ("0.4", "0.4", None)))
    assert decision.action == "skipped" and decision.row is None


def test_append_adds_a_missing_final_newline(tmp_path: Path) -> None:
    csv_path = write_csv(
        tmp_path / "p.csv",
        "together,m,serverless,0.3,0.3,,2025-01-01,,genai-prices 0.2.3",
        final_newline=False,
    )
    [decision] = plan(csv_path, catalog("m", ("0.4", "0.4", None)))
    assert decision.row is not None
    append_rows(csv_path, [decision.row])
    assert [row.valid_from for row in read_price_rows(csv_path)] == [date(2025, 1, 1), AS_OF]


def test_bundled_catalog_lists_together_models_with_decimal_prices() -> None:
    models = {price.model: price for price in together_catalog(date(2026, 11, 28))}
    llama = models[LLAMA]
    assert llama.usd_per_million_input_tokens == Decimal("0.88")
    deepseek = models["deepseek-ai/DeepSeek-V4.1-Flash"]
    assert deepseek.usd_per_million_cached_input_tokens == Decimal("0.006")
    assert "deepseek-ai/DeepSeek-V4.1-Flash-1017" in models  # exact-match alias
    # genai-prices dates a change for this model: 0.04 before 2026-10-19, 0.042 from then.
    assert together_catalog(date(2026, 10, 18)) != together_catalog(date(2026, 10, 19))


def test_shipped_seed_is_in_sync_with_the_bundled_catalog(tmp_path: Path) -> None:
    copy = tmp_path / "model_prices.csv"
    copy.write_bytes(PRICE_CSV.read_bytes())
    decisions = refresh(copy, date(2026, 11, 28), dry_run=True)
    assert [d.model for d in decisions if d.action == "append"] == []
    assert copy.read_bytes() == PRICE_CSV.read_bytes()


def test_dry_run_prints_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_path = write_csv(
        tmp_path / "p.csv",
        f"together,{LLAMA},serverless,1,1,,2025-01-01,,genai-prices 0.1",
    )
    before = csv_path.read_bytes()
    assert main(["--csv", str(csv_path), "--as-of", "2026-11-28", "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert "would append" in printed
    assert f"{LLAMA},serverless,0.88,0.88,,2026-11-28" in printed
    assert csv_path.read_bytes() == before


def test_runs_as_a_module(tmp_path: Path) -> None:
    csv_path = write_csv(tmp_path / "p.csv")
    completed = subprocess.run(
        [sys.executable, "-m", "batchledger.prices_refresh", "--csv", str(csv_path), "--dry-run"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert "would append" in completed.stdout
    assert csv_path.read_text() == HEADER + "\n"
