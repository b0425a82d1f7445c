"""prices/model_prices.csv: the contract's columns, sane windows, section 10's batch rows."""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from pathlib import Path

from batchledger.pricing import (
    NOT_AVAILABLE_FOR_BATCH,
    PRICE_COLUMNS,
    effective_windows,
    is_not_available_for_batch,
    read_price_rows,
    row_in_force,
)

from .conftest import PRICE_CSV
from .raw_fixture import ACME, DEEPSEEK, LLAMA, QWEN

# Together's current batch page (contract section 10); whisper is priced per audio minute, not
# per token.
BATCH_DISCOUNTED = {
    "meta-llama/Llama-3.3-70B-Instruct-Turbo",
    "meta-llama/Llama-3-70b-chat-hf",
    "Qwen/Qwen2.5-7B-Instruct-Turbo",
    "mistralai/Mixtral-8x7B-Instruct-v0.1",
    "zai-org/GLM-4.5-Air-FP8",
    "openai/whisper-large-v3",
}
# Discounted at the launch (blog 2025-06-11, docs of the time), absent from the current page:
# their discount ends on the first date a source shows it absent (prices/README.md).
DISCOUNT_ENDED = {
    "deepseek-ai/DeepSeek-V3",
    "meta-llama/Llama-4-Maverick-17B-128E-Instruct-FP8",
    "meta-llama/Llama-4-Scout-17B-16E-Instruct",
    "meta-llama/Meta-Llama-3.1-405B-Instruct-Turbo",
    "meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo",
    "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo",
    "mistralai/Mistral-7B-Instruct-v0.1",
    "Qwen/Qwen2.5-72B-Instruct-Turbo",
}
FIRST_SEEN_ABSENT = date(2026, 11, 28)
WHISPER = "openai/whisper-large-v3"


def test_header_is_exactly_the_contract() -> None:
    with PRICE_CSV.open(newline="") as handle:
        assert tuple(next(csv.reader(handle))) == PRICE_COLUMNS


def test_every_row_parses_with_a_source() -> None:
    rows = read_price_rows(PRICE_CSV)
    assert len(rows) > 100
    for row in rows:
        assert row.provider == "together"
        assert row.source.strip(), row
        # Token rates for a text model, an audio rate for a speech model (issue 11).
        assert row.has_token_rates or row.usd_per_audio_minute is not None, row
        rates = (
            row.usd_per_million_input_tokens,
            row.usd_per_million_output_tokens,
            row.usd_per_million_cached_input_tokens,
            row.usd_per_audio_minute,
        )
        for rate in rates:
            if rate is not None:
                assert rate >= 0 and rate.as_tuple().exponent >= -9, row  # DECIMAL(18,9)


def test_windows_never_overlap() -> None:
    rows = read_price_rows(PRICE_CSV)
    starts = [(row.key, row.valid_from) for row in rows]
    assert len(starts) == len(set(starts))
    for row, ends in effective_windows(rows):
        assert ends is None or row.valid_from < ends, row


def test_batch_rows_are_half_the_serverless_rate() -> None:
    rows = read_price_rows(PRICE_CSV)
    batch = [row for row in rows if row.pricing_mode == "batch"]
    assert {row.model for row in batch} == BATCH_DISCOUNTED | DISCOUNT_ENDED
    for row in batch:
        serverless = row_in_force(rows, ("together", row.model, "serverless"), row.valid_from)
        assert serverless is not None, row.model
        for name in (
            "usd_per_million_input_tokens",
            "usd_per_million_output_tokens",
            "usd_per_audio_minute",
        ):
            rate, full = getattr(row, name), getattr(serverless, name)
            assert (rate is None) == (full is None), (row.model, name)
            assert rate is None or rate * 2 == full, (row.model, name)


def test_no_discount_runs_on_without_evidence() -> None:
    """A batch row is open-ended only for a model the current batch page lists as discounted;
    every other one ends on the day a source first shows it absent, and says so."""
    rows = read_price_rows(PRICE_CSV)
    for row in rows:
        if row.pricing_mode != "batch":
            continue
        if row.model in BATCH_DISCOUNTED:
            assert row.valid_to is None, row
        else:
            assert row.valid_to == FIRST_SEEN_ABSENT, row
            assert f"first seen absent on {FIRST_SEEN_ABSENT}" in row.source, row
            key = ("together", row.model, "batch")
            day_before = date(2026, 11, 27)
            assert row_in_force(rows, key, day_before) == row
            assert row_in_force(rows, key, FIRST_SEEN_ABSENT) is None
            # After the end the model bills at its serverless row, which is in force.
            assert row_in_force(rows, ("together", row.model, "serverless"), FIRST_SEEN_ABSENT)


def test_models_not_available_for_batch_are_not_discounted() -> None:
    rows = read_price_rows(PRICE_CSV)
    batch_models = {row.model for row in rows if row.pricing_mode == "batch"}
    assert len(NOT_AVAILABLE_FOR_BATCH) == 6
    assert not any(is_not_available_for_batch(model) for model in BATCH_DISCOUNTED | batch_models)


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
    # Whisper: per minute of audio, half price in batch (from 2026-05-11), no token rates.
    whisper = {
        mode: row_in_force(rows, ("together", WHISPER, mode), day)
        for mode in ("batch", "serverless")
    }
    assert {mode: row and row.usd_per_audio_minute for mode, row in whisper.items()} == {
        "batch": Decimal("0.00075"),
        "serverless": Decimal("0.0015"),
    }
    assert rate(WHISPER, "batch") == (None, None, None)
    assert row_in_force(rows, ("together", WHISPER, "batch"), date(2026, 5, 10)) is None


def test_rows_written_before_the_audio_column_read_as_empty(tmp_path: Path) -> None:
    """The column was added after the first rows: a row that ends at `source` is a row with no
    audio rate, in Python as in dbt (the seed loads through agate, which pads it)."""
    path = tmp_path / "prices.csv"
    path.write_text(
        ",".join(PRICE_COLUMNS) + "\n"
        "together,m,serverless,0.2,0.4,,2025-01-01,,old row\n"
        "together,w,serverless,,,,2025-01-01,,audio row,0.006\n"
    )
    old, audio = read_price_rows(path)
    assert old.usd_per_audio_minute is None and old.has_token_rates
    assert audio.usd_per_audio_minute == Decimal("0.006") and not audio.has_token_rates


# The seed type of prices/dedicated_endpoints.csv's rate (dbt_project.yml): a rate with more
# decimals would be rounded silently by the load.
DEDICATED_CSV = PRICE_CSV.parent / "dedicated_endpoints.csv"
SEED_RATE_PLACES = 9  # decimal(18, 9)


def rates_past_the_seed_type(path: Path) -> list[str]:
    """The rows of a dedicated seed whose usd_per_hour is negative, not a number, or has more
    decimal places than its DECIMAL(18,9) seed type keeps."""
    bad = []
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            try:
                rate = Decimal(row["usd_per_hour"])
            except ArithmeticError:
                bad.append(row["usd_per_hour"])
                continue
            exponent = rate.as_tuple().exponent
            places = -exponent if isinstance(exponent, int) else SEED_RATE_PLACES + 1
            if not rate.is_finite() or rate < 0 or places > SEED_RATE_PLACES:
                bad.append(row["usd_per_hour"])
    return bad


def test_dedicated_rates_fit_their_seed_type(tmp_path: Path) -> None:
    assert rates_past_the_seed_type(DEDICATED_CSV) == []
    # The check itself: ten decimals, and a negative rate, are caught.
    with DEDICATED_CSV.open(newline="") as handle:
        first = next(csv.DictReader(handle))
    bad = tmp_path / "dedicated_endpoints.csv"
    with bad.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(first))
        writer.writeheader()
        for value in ("2.5600000001", "-1"):
            writer.writerow({**first, "usd_per_hour": value})
    assert rates_past_the_seed_type(bad) == ["2.5600000001", "-1"]
