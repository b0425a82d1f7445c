"""Classes 3 and 4: wrong money and lines that blocked publishing.

A hostile server rewrites a finished job's output file (same byte size and line count as its
metadata says, so the download is accepted) with the odd lines of issue 8: negative, string,
float, 1e20 and null usage, `created` out of range, and one request answered twice. The run
must publish, flag each line by its rule, and never turn flagged usage into money.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from rich.console import Console

from batchledger.cli.summary import print_summary
from batchledger.emulator import Emulator, ScenarioJob
from batchledger.ingest import run_ingest
from batchledger.landing import landing_path
from batchledger.settings import Settings
from tests.hostile.conftest import assert_key_nowhere, snapshot_outside_data
from tests.hostile.server import Answer, Hostile, content_of
from tests.ingest.test_ingest import counts, expected_counts
from tests.warehouse.conftest import PRICE_CSV
from tests.warehouse.expected import expected_demo_items


def _usage(line: dict[str, Any]) -> dict[str, Any]:
    usage: dict[str, Any] = line["response"]["body"]["usage"]
    return usage


# What each mutated line becomes, in file order, and the issue data_quality_issues lists.
MUTATIONS: list[tuple[str, Any]] = [
    ("invalid_usage", lambda line: _usage(line).update(prompt_tokens=-5, total_tokens=-5)),
    ("missing_usage", lambda line: line["response"]["body"].update(usage=None)),
    ("invalid_usage", lambda line: _usage(line).update(completion_tokens="abc")),
    ("invalid_usage", lambda line: _usage(line).update(completion_tokens=1e20)),
    ("invalid_usage", lambda line: _usage(line).update(prompt_tokens={"n": 1})),
    ("invalid_usage", lambda line: _usage(line).update(prompt_tokens=12.5)),
    ("created_out_of_range", lambda line: line["response"]["body"].update(created=10**14)),
    ("invalid_status_code", lambda line: line["response"].update(status_code="200 OK")),
    ("invalid_usage", lambda line: _usage(line).update(prompt_tokens=5 * 10**18,
                                                        completion_tokens=5 * 10**18,
                                                        total_tokens=None)),
    ("invalid_usage", lambda line: _usage(line).update(
        prompt_tokens_details={"cached_tokens": 10**6})),
]  # fmt: skip


def _odd_job(emulator: Emulator) -> ScenarioJob:
    """A finished job at a priced model, with room in its output for every mutation and a
    duplicate."""
    expected = expected_demo_items(emulator.scenario, PRICE_CSV)
    return next(
        job
        for job in emulator.scenario.jobs
        if job.is_terminal_at(emulator.now())
        and job.output_file_id
        and sum(item.outcome == "succeeded" for item in job.items) >= len(MUTATIONS) + 2
        and all(expected[(job.batch_id, i.custom_id)].cost_usd is not None for i in job.items)
    )


def _rewrite(answer: Answer) -> Answer:
    """Mutate the first lines, answer the last request twice (the next-to-last line now
    carries the last line's custom_id), and pad with spaces to the original size."""
    lines = [json.loads(raw) for raw in answer.body.splitlines()]
    for line, (_, mutate) in zip(lines, MUTATIONS, strict=False):
        mutate(line)
    lines[-2]["custom_id"] = lines[-1]["custom_id"]
    text = "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines).encode()
    assert len(text) <= len(answer.body), "the rewrite must fit in the listed size"
    padded = text[:-1] + b" " * (len(answer.body) - len(text)) + b"\n"
    return Answer(answer.status, answer.headers, padded, length=len(padded))


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_odd_usage_and_duplicates_publish_flagged_and_never_become_money(
    emulator: Emulator, hostile: Hostile, hostile_settings: Settings, tmp_path: Path
) -> None:
    job = _odd_job(emulator)
    output = job.output_file_id or ""
    before = snapshot_outside_data(tmp_path)
    hostile.mangles.append(content_of(output, _rewrite))
    result = run_ingest(hostile_settings)
    assert result.build is not None and result.build.mode == "full"
    # What the user sees: each issue counted under DATA QUALITY, never a failed build.
    shown = Console(record=True, width=200)
    print_summary(result, shown)
    summary = shown.export_text()
    assert "DATA QUALITY" in summary
    assert "invalid_usage: 7 line(s)" in summary
    for issue in ("missing_usage", "invalid_status_code", "created_out_of_range"):
        assert f"{issue}: 1 line(s)" in summary
    assert "duplicate_result_line: 1 line(s), second answer to one request: not billed" in summary
    assert hostile_settings.db_path.exists()  # published, not blocked
    raw = expected_counts(emulator.scenario, emulator)
    assert counts(hostile_settings.db_path) == raw  # every line loaded, none quarantined

    with duckdb.connect(str(hostile_settings.db_path), read_only=True) as con:
        issues = con.execute(
            "select issue, file_id, line_number, custom_id from marts.data_quality_issues "
            "where batch_id = ? order by line_number, issue",
            [job.batch_id],
        ).fetchall()
        items = {
            row[0]: row[1:]
            for row in con.execute(
                "select custom_id, usage_issue, is_priced, cost_usd, total_tokens, "
                "result_line_number, item_status from marts.fct_batch_items where batch_id = ?",
                [job.batch_id],
            ).fetchall()
        }
        job_cost = con.execute(
            "select cost_usd, unpriced_items from marts.cost_by_job where batch_id = ?",
            [job.batch_id],
        ).fetchone()
        negative = con.execute(
            "select count(*) from marts.cost_by_month where cost_usd < 0 or total_tokens < 0"
        ).fetchone()
    landed = landing_path(hostile_settings.landing_dir, output).read_bytes().splitlines()
    ids = [json.loads(raw)["custom_id"] for raw in landed]

    wanted = [
        (issue, output, number, ids[number - 1])
        for number, (issue, _) in enumerate(MUTATIONS, start=1)
    ]
    # The last request answered twice: its first line (the next-to-last) wins, the last loses.
    wanted.append(("duplicate_result_line", output, len(ids), ids[-1]))
    assert sorted(issues, key=lambda i: (i[2], i[0])) == sorted(wanted, key=lambda i: (i[2], i[0]))

    flagged = {ids[n] for n, (issue, _) in enumerate(MUTATIONS) if issue != "created_out_of_range"}
    for custom_id, (usage_issue, is_priced, cost, tokens, _, _) in items.items():
        if custom_id in flagged:
            assert usage_issue and not is_priced and cost is None and tokens == 0, custom_id
        else:
            assert usage_issue is None, custom_id
    assert items[ids[-1]][4] == len(ids) - 1  # billed from its first line
    # The request whose line was taken over by the duplicate has no result: not processed.
    lost = next(i.custom_id for i in job.items if i.custom_id not in ids)
    assert items[lost][5] == "not_processed"
    assert negative == (0,)

    # The job's cost is exactly the independent Decimal cost of its clean items. The twice
    # answered request is billed from the next-to-last line: the usage of the request that
    # line answered before the rewrite (`lost`, now not processed and costing 0).
    expected = {
        i.custom_id: expected_demo_items(emulator.scenario, PRICE_CSV)[(job.batch_id, i.custom_id)]
        for i in job.items
    }
    clean = set(items) - flagged - {lost, ids[-1]}
    wanted_cost = sum((expected[c].cost_usd or Decimal(0) for c in clean), Decimal(0))
    wanted_cost += expected[lost].cost_usd or Decimal(0)
    assert job_cost == (wanted_cost, len(flagged))

    # A rerun against the now healthy server: nothing new, nothing changes, nothing blocks.
    hostile.mangles.clear()
    again = run_ingest(hostile_settings)
    assert again.up_to_date
    assert counts(hostile_settings.db_path) == raw
    with duckdb.connect(str(hostile_settings.db_path), read_only=True) as con:
        assert con.execute(
            "select count(*) from marts.data_quality_issues where batch_id = ?", [job.batch_id]
        ).fetchone() == (len(wanted),)
    assert snapshot_outside_data(tmp_path) == before
    assert_key_nowhere(tmp_path)
