"""prices/model_prices.csv: the contract's columns, sane windows, section 10's batch rows."""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal

from batchledger.pricing import PRICE_COLUMNS, effective_windows, read_price_rows, row_in_force

from .conftest import PRICE_CSV
from .raw_fixture import ACME, DEEPSEEK, LLAMA, QWEN

# Together's batch docs (contract section 10); whisper is priced per audio minute, not per token.
BATCH_DISCOUNTED = {
    "meta-llama/Llama-3.3-70B-Instruct-Turbo",
    "meta-llama/Llama-3-70b-chat-hf",
    "Qwen/Qwen2.5-7B-Instruct-Turbo",
    "mistralai/Mixtral-8x7B-Instruct-v0.1",
    "zai-org/GLM-4.5-Air-FP8",
}


def test_header_is_exactly_the_contract() -> None:
    with PRICE_CSV.open(newline="") as handle:
        assert tuple(next(csv.reader(handle))) == PRICE_COLUMNS


def test_every_row_parses_with_a_source() -> None:
    rows = read_price_rows(PRICE_CSV)
    assert len(rows) > 100
    for row in rows:
        assert row.provider == "together"
        assert row.source.strip(), row
        assert row.usd_per_million_input_tokens >= 0 and row.usd_per_million_output_tokens >= 0
        assert row.usd_per_million_input_tokens.as_tuple().exponent >= -9  # DECIMAL(18,9)


def test_windows_never_overlap() -> None:
    rows = read_price_rows(PRICE_CSV)
    starts = [(row.key, row.valid_from) for row in rows]
    assert len(starts) == len(set(starts))
    for row, ends in effective_windows(rows):
        assert ends is None or row.valid_from < ends, row


def test_batch_rows_are_half_the_serverless_rate() -> None:
    rows = read_price_rows(PRICE_CSV)
    batch = [row for row in rows if row.pricing_mode == "batch"]
    assert {row.model for row in batch} == BATCH_DISCOUNTED
    for row in batch:
        serverless = row_in_force(rows, ("together", row.model, "serverless"), row.valid_from)
        assert serverless is not None, row.model
        assert row.usd_per_million_input_tokens * 2 == serverless.usd_per_million_input_tokens
        assert row.usd_per_million_output_tokens * 2 == serverless.usd_per_million_output_tokens


def test_demo_models_are_priced_as_the_contract_says() -> None:
    rows = read_price_rows(PRICE_CSV)
    day = date(2026, 11, 20)

    def rate(model: str, mode: str) -> tuple[Decimal, Decimal, Decimal | None] | None:
        row = row_in_force(rows, ("together", model, mode), day)
        if row is None:
            return None
        return (
            row.usd_per_million_input_tokens,
            row.usd_per_million_output_tokens,
            row.usd_per_million_cached_input_tokens,
        )

    assert rate(LLAMA, "batch") == (Decimal("0.44"), Decimal("0.44"), None)
    assert rate(QWEN, "batch") == (Decimal("0.15"), Decimal("0.15"), None)
    assert rate(DEEPSEEK, "batch") is None
    assert rate(DEEPSEEK, "serverless") == (Decimal("0.3"), Decimal("1.2"), Decimal("0.006"))
    assert rate(ACME, "serverless") is None and rate(ACME, "batch") is None
