"""Reading an invoice CSV (generic layout and mappings) and storing it once per file and month."""

from __future__ import annotations

import csv
import os
from decimal import Decimal
from pathlib import Path

import pytest

from batchledger.invoices import InvoiceError, parse_amount, parse_mapping, read_invoice
from batchledger.settings import Settings
from batchledger.store import INVOICE_LINES_FILE, invoice_lines_in, ops_dir, record_invoice
from tests.conftest import make_settings

GENERIC = (
    "month,description,model,amount_usd,currency\n"
    "2026-11,Batch inference,meta-llama/Llama-3.3-70B-Instruct-Turbo,12.34,USD\n"
    '2026-11-30,Tax,,"$1,000.10",usd\n'
    "2026-10,Credit,,(0.000000000000000001),USD\n"
)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def store_settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, "http://127.0.0.1:9")


def test_generic_layout_is_read_exactly(tmp_path: Path) -> None:
    invoice = read_invoice(write(tmp_path / "nov.csv", GENERIC))
    assert invoice.months == {"2026-10", "2026-11"}
    first, tax, credit = invoice.lines
    assert (first.line_number, first.invoice_month, first.model) == (
        2,
        "2026-11",
        "meta-llama/Llama-3.3-70B-Instruct-Turbo",
    )
    assert first.amount_usd == Decimal("12.34") and first.description == "Batch inference"
    assert (tax.invoice_month, tax.model, tax.amount_usd) == ("2026-11", None, Decimal("1000.10"))
    assert tax.currency == "USD"
    # 18 decimal places survive: nothing went through a float.
    assert credit.amount_usd == Decimal("-0.000000000000000001")


def test_a_mapping_reads_another_layout_and_a_bom(tmp_path: Path) -> None:
    path = tmp_path / "console.csv"
    path.write_bytes(
        "\ufeffBilling Month,Line Item,Amount (USD)\n2026-11,Inference,0.10\n".encode()
    )
    mapping = parse_mapping(
        ["month=Billing Month", "description=Line Item", "amount_usd=Amount (USD)"]
    )
    [line] = read_invoice(path, mapping).lines
    assert (line.invoice_month, line.description, line.amount_usd) == (
        "2026-11",
        "Inference",
        Decimal("0.10"),
    )
    with pytest.raises(
        InvoiceError, match=r"line 1: no month and no amount_usd and no description or model column"
    ):
        read_invoice(path)
    with pytest.raises(InvoiceError, match=r"no column 'Total' \(mapped to amount_usd\)"):
        read_invoice(path, {**mapping, "amount_usd": "Total"})
    with pytest.raises(InvoiceError, match="unknown field 'cost'"):
        parse_mapping(["cost=Amount"])


def test_every_bad_line_is_named_and_nothing_is_returned(tmp_path: Path) -> None:
    path = write(
        tmp_path / "bad.csv",
        "month,description,amount_usd,currency\n"
        "2026-11,ok,1.00,USD\n"
        "November,bad month,1.00,USD\n"  # 3
        "2026-11,float,1e3,USD\n"  # 4
        "2026-11,euro,1.00,EUR\n"  # 5
        ",no month,1.00,USD\n"  # 6
        "2026-11,,1.00,USD\n"  # 7: neither model nor description
        "2026-11,nan,NaN,USD\n"  # 8
        "2026-13,bad month,1.00,USD\n",  # 9
    )
    with pytest.raises(InvoiceError) as caught:
        read_invoice(path)
    message = str(caught.value)
    assert message.startswith("7 bad line(s), nothing imported")
    for line, words in [
        (3, "month 'November' is not YYYY-MM"),
        (4, "amount '1e3' is not a decimal number"),
        (5, "currency is 'EUR'"),
        (6, "month is empty"),
        (7, "the line names neither a model nor a description"),
        (8, "amount 'NaN'"),
        (9, "month '2026-13'"),
    ]:
        assert f"bad.csv: line {line}: {words}" in message


def test_a_record_over_several_lines_is_named_by_its_first_line(tmp_path: Path) -> None:
    # A quoted cell may hold line breaks: a record is named by the line it starts on, where an
    # editor shows it, and the records after it keep their own first lines.
    text = (
        "month,description,amount_usd\n"
        '2026-11,"Dedicated endpoint,\n12 h at 6.72/h",80.64\n'  # 2-3
        '2026-11,"Batch inference\nOctober\ncorrection",1e3\n'  # 4-6
        "2026-11,Tax,NaN\n"  # 7
        "\n"  # 8
        '2026-11,"Support\nplan",(-1)\n'  # 9-10
    )
    with pytest.raises(InvoiceError) as caught:
        read_invoice(write(tmp_path / "multi.csv", text))
    message = str(caught.value)
    assert message.startswith("3 bad line(s)")
    for line, words in [(4, "amount '1e3'"), (7, "amount 'NaN'"), (9, "amount '(-1)'")]:
        assert f"multi.csv: line {line}: {words}" in message
    good = read_invoice(
        write(tmp_path / "good.csv", text.replace("1e3", "1").split("2026-11,Tax")[0])
    )
    assert [(line.line_number, line.amount_usd) for line in good.lines] == [
        (2, Decimal("80.64")),
        (4, Decimal("1")),
    ]
    # A CSV error names the line its record starts on too (here a cell past the csv module's
    # field limit, 128 KiB).
    huge = "x" * (csv.field_size_limit() + 1)
    broken = write(
        tmp_path / "huge.csv", f'month,description,amount_usd\n2026-11,"a\nb\n{huge}",1\n'
    )
    with pytest.raises(InvoiceError, match=r"huge\.csv: line 2: not valid CSV"):
        read_invoice(broken)


def test_empty_and_unreadable_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvoiceError, match="the file is empty"):
        read_invoice(write(tmp_path / "empty.csv", ""))
    with pytest.raises(InvoiceError, match="no invoice lines below the header"):
        read_invoice(write(tmp_path / "header.csv", "month,description,amount_usd\n"))
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"month,description,amount_usd\n2026-11,caf\xe9,1\n")
    with pytest.raises(InvoiceError, match=r"latin\.csv: not UTF-8"):
        read_invoice(latin)
    with pytest.raises(InvoiceError, match="header repeats month"):
        read_invoice(write(tmp_path / "dup.csv", "month,month,description,amount_usd\n"))


@pytest.mark.parametrize(
    ("text", "amount"),
    [("1", "1"), ("-2.50", "-2.50"), ("$3", "3"), ("-$4.1", "-4.1"), ("(5)", "-5"),
     ("1,234,567.891", "1234567.891"), (" 0.1 ", "0.1")],
)  # fmt: skip
def test_amounts_are_exact(text: str, amount: str) -> None:
    assert parse_amount(text) == Decimal(amount)
    assert str(parse_amount(text)) == amount


# "(-5)" must not become +5; "\u0661\u0662" (Arabic-Indic) and "\uff11" (full-width) digits are
# no ASCII figures; 1e14 is past what the money macros hold.
@pytest.mark.parametrize(
    "text",
    ["1,23", "1.2.3", "inf", "0x10", "1_000", "1e-2", "12,34.5", "(-5)", "(+5)",
     "\u0661\u0662\u0663", "\uff11\uff12", "100000000000000", "-100000000000000.5"],
)  # fmt: skip
def test_odd_amounts_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_amount(text)


def test_the_same_file_twice_is_stored_once(tmp_path: Path, store_settings: Settings) -> None:
    invoice = read_invoice(write(tmp_path / "nov.csv", GENERIC))
    first = record_invoice(store_settings, invoice, imported_at="2026-12-01T09:00:00+00:00")
    again = record_invoice(store_settings, invoice, imported_at="2026-12-02T09:00:00+00:00")
    assert (first.outcome, again.outcome) == ("imported", "unchanged")
    stored = invoice_lines_in(ops_dir(store_settings))
    assert len(stored) == 3
    assert {row["imported_at"] for row in stored} == {"2026-12-01T09:00:00+00:00"}
    assert [row["amount_usd"] for row in stored] == [
        "12.34",
        "1000.10",
        "-1E-18".replace("-1E-18", "-0.000000000000000001"),
    ]


def test_a_month_from_another_file_needs_replace(tmp_path: Path, store_settings: Settings) -> None:
    record_invoice(
        store_settings, read_invoice(write(tmp_path / "nov.csv", GENERIC)), imported_at="t1"
    )
    corrected = read_invoice(
        write(tmp_path / "nov-v2.csv", "month,description,amount_usd\n2026-11,Corrected,13\n")
    )
    store_file = ops_dir(store_settings) / INVOICE_LINES_FILE
    before = store_file.read_bytes()
    with pytest.raises(InvoiceError, match=r"2026-11 was already imported from nov\.csv"):
        record_invoice(store_settings, corrected, imported_at="t2")
    assert store_file.read_bytes() == before  # nothing half-written
    done = record_invoice(store_settings, corrected, imported_at="t2", replace=True)
    assert (done.outcome, done.replaced_files) == ("replaced", ("nov.csv",))
    stored = invoice_lines_in(ops_dir(store_settings))
    # October stays from the first file; November is the corrected file's only.
    assert sorted(
        (row["invoice_month"], row["file_name"], row["amount_usd"]) for row in stored
    ) == [
        ("2026-10", "nov.csv", "-0.000000000000000001"),
        ("2026-11", "nov-v2.csv", "13"),
    ]


def test_the_same_file_with_another_mapping_needs_replace(
    tmp_path: Path, store_settings: Settings
) -> None:
    path = write(
        tmp_path / "console.csv",
        "Month,Item,Amount,Amount (USD)\n2026-11,Batch inference,10.00,12.34\n",
    )
    wrong = {"month": "Month", "description": "Item", "amount_usd": "Amount"}
    record_invoice(store_settings, read_invoice(path, wrong), imported_at="t1")
    store_file = ops_dir(store_settings) / INVOICE_LINES_FILE
    before = store_file.read_bytes()
    # The same bytes read into the same lines change nothing.
    again = record_invoice(store_settings, read_invoice(path, wrong), imported_at="t2")
    assert again.outcome == "unchanged"
    assert store_file.read_bytes() == before
    # Read with another mapping, the lines differ: said plainly, and nothing changes.
    right = read_invoice(path, {**wrong, "amount_usd": "Amount (USD)"})
    with pytest.raises(InvoiceError) as caught:
        record_invoice(store_settings, right, imported_at="t3")
    message = str(caught.value)
    assert "console.csv is already imported (the same file, imported t1)" in message
    assert "with another column mapping" in message and "pass --replace" in message
    assert store_file.read_bytes() == before
    # --replace applies the new mapping.
    done = record_invoice(store_settings, right, imported_at="t3", replace=True)
    assert (done.outcome, done.replaced_files) == ("replaced", ("console.csv",))
    stored = invoice_lines_in(ops_dir(store_settings))
    assert [(row["amount_usd"], row["imported_at"]) for row in stored] == [("12.34", "t3")]


def test_odd_months_and_files_are_refused(tmp_path: Path) -> None:
    arabic = "\u0662\u0660\u0662\u0666-\u0661\u0661"
    with pytest.raises(InvoiceError, match="line 2: month"):
        read_invoice(write(tmp_path / "m.csv", f"month,description,amount_usd\n{arabic},x,1\n"))
    # Lines below 1e14 each, but the month adds up past what the marts hold.
    big = "month,description,amount_usd\n2026-11,a,60000000000000\n2026-11,b,-60000000000000\n"
    with pytest.raises(InvoiceError, match="2026-11 add up to 1e14 USD or more"):
        read_invoice(write(tmp_path / "big.csv", big))
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)  # a read would block forever
    with pytest.raises(InvoiceError, match="not a regular file"):
        read_invoice(fifo)
    with pytest.raises(InvoiceError, match="not a regular file"):
        read_invoice(tmp_path)
