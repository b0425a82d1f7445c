"""A run costs what changed: each kind of input changes in turn, the marts follow, a run with
nothing new does nothing, and marts built by a sequence of incremental runs equal a full
rebuild row for row and to the last decimal.

The dbt project and prices/ are copied to a temp folder so the test can edit them.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb
import pytest

from batchledger.build import dbt_artifacts_dir, dbt_cache_dir
from batchledger.build_state import dbt_inputs_fingerprint, read_build_state
from batchledger.emulator import Emulator, demo, demo_scenario
from batchledger.ingest import IngestResult, run_ingest
from batchledger.invoices import read_invoice
from batchledger.paths import DBT_PROJECT_DIR, PRICES_DIR
from batchledger.settings import Settings
from batchledger.store import Submission, record_invoice, record_submission
from batchledger.transform import run_dbt
from tests.conftest import TEST_API_KEY, make_settings
from tests.duck import query
from tests.warehouse.expected import expected_demo_items

# Every table and view finance reads, compared whole between incremental and full builds.
MARTS = (
    "fct_batch_items",
    "fct_batch_month_costs",
    "fct_batch_day_costs",
    "fct_batch_month_cohort_costs",
    "cost_by_job",
    "cost_by_model",
    "cost_by_month",
    "cost_by_day",
    "cost_by_cohort",
    "cost_by_logical_job",
    "budget_status",
    "data_quality_issues",
    "dedicated_endpoint_costs",
    "invoice_reconciliation",
)
# The demo model whose batch rate the test changes retroactively.
REPRICED_MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"


@dataclass
class Project:
    dbt_dir: Path
    prices_dir: Path


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A private copy of dbt_project/ and prices/ that every build in this test uses."""
    root = tmp_path / "repo"
    ignore = shutil.ignore_patterns("target", "logs", "dbt_packages")
    shutil.copytree(DBT_PROJECT_DIR, root / "dbt_project", ignore=ignore)
    shutil.copytree(PRICES_DIR, root / "prices")
    for module in ("batchledger.transform", "batchledger.build_state"):
        monkeypatch.setattr(f"{module}.DBT_PROJECT_DIR", root / "dbt_project")
    monkeypatch.setattr("batchledger.build_state.PRICES_DIR", root / "prices")
    return Project(root / "dbt_project", root / "prices")


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(scenario=demo_scenario(), api_key=TEST_API_KEY, time_scale=0.0) as emu:
        yield emu


def ingest(settings: Settings) -> IngestResult:
    return run_ingest(settings)


def mode(result: IngestResult) -> str:
    assert result.build is not None
    return result.build.mode


def rebuilt_batches(db: Path) -> set[str]:
    """The batches whose items the last build wrote."""
    return {
        str(batch_id)
        for (batch_id,) in query(
            db,
            "select distinct batch_id from marts.fct_batch_items "
            "where _build_id = (select max(_build_id) from marts.fct_batch_items)",
        )
    }


def job_cost(db: Path, batch_id: str) -> object:
    return query(db, f"select cost_usd from marts.cost_by_job where batch_id = '{batch_id}'")[0][0]


def flagged_lines(db: Path) -> set[tuple[str, int]]:
    found = query(
        db,
        "select file_id, line_number from marts.data_quality_issues "
        "where issue = 'quarantined_line'",
    )
    return {(str(file_id), int(line)) for file_id, line in found}


def names(con: duckdb.DuckDBPyConnection, mart: str) -> set[str]:
    return {row[0] for row in con.execute(f"describe marts.{mart}").fetchall()}


@pytest.mark.slow
def test_each_input_changes_in_turn_and_incremental_equals_full(
    project: Project, emulator: Emulator, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, emulator.base_url)
    db = settings.db_path
    jobs = {job.batch_id: job for job in emulator.scenario.jobs}
    running = [b for b, job in jobs.items() if not job.is_terminal_at(emulator.now())]
    assert running, "the demo must have a job still running"

    # Every result file written from now on has one line that is not JSON: quarantined and
    # flagged in data_quality_issues, by the full build and then by the incremental one.
    emulator.faults.malformed_output_line = True

    # 1. First build: full.
    first = ingest(settings)
    assert mode(first) == "full" and first.build is not None
    assert first.build.reason == "first build"
    assert flagged_lines(db) == set(emulator.malformed_lines)
    assert query(db, f"select count(*) from marts.cost_by_job where batch_id = '{running[0]}'")

    # 2. Nothing new: one request per list (batches, dedicated endpoints, files), no dbt work,
    # the published file untouched.
    published = db.stat()
    emulator.reset_log()
    result = ingest(settings)
    assert mode(result) == "up_to_date" and result.dbt is None
    assert sorted((r.method, r.path) for r in emulator.request_log) == [
        ("GET", "/v1/batches"),
        ("GET", "/v1/endpoints"),
        ("GET", "/v1/files"),
    ]
    assert (db.stat().st_ino, db.stat().st_mtime_ns) == (published.st_ino, published.st_mtime_ns)

    # 3. A price row appended with valid_from in the past: a full rebuild reprices the model.
    batch = next(b for b, job in jobs.items() if job.items[0].model == REPRICED_MODEL)
    before = job_cost(db, batch)
    with (project.prices_dir / "model_prices.csv").open("a") as prices:
        prices.write(f"together,{REPRICED_MODEL},batch,0.01,0.02,,2026-10-01,,test: retroactive\n")
    assert mode(ingest(settings)) == "full"
    assert job_cost(db, batch) != before

    # 4. Time passes: the running job finishes, its result files arrive (one with a line that
    # is not JSON, flagged by the incremental build), its status changes.
    flagged_before = flagged_lines(db)
    emulator.advance(3 * 24 * 3600)
    assert mode(ingest(settings)) == "incremental"
    assert flagged_lines(db) == set(emulator.malformed_lines) > flagged_before
    statuses = dict(query(db, "select batch_id, status from marts.cost_by_job"))
    assert all(statuses[b] != "in_progress" for b in running)
    # Only the batches whose job or files changed were rebuilt.
    assert set(running) <= rebuilt_batches(db) < set(jobs)

    # 5. Tags recorded by `submit` in the ops store: the batches' cohorts follow. The tables
    # were created empty by the first run with every column a row brings (dlt's row key
    # included), so even the first record leaves the raw schema as it was: incremental.
    first, second = sorted(jobs)[:2]
    tagged: set[str] = set()
    for batch_id in (first, second):
        record_submission(
            settings,
            Submission(
                batch_id=batch_id,
                submitted_at="2026-11-20T00:00:00Z",
                file="x.jsonl",
                input_file_id=jobs[batch_id].input_file_id,
                model=None,
                lines=1,
                estimate_usd=None,
                tags={"cost_center": f"cc-{batch_id}"},
            ),
        )
        assert mode(ingest(settings)) == "incremental"
        # A changed ops store is loaded whole again: the batches it tags are rebuilt.
        tagged.add(batch_id)
        assert rebuilt_batches(db) == tagged
        tags = query(
            db, f"select tags['cost_center'] from marts.cost_by_job where batch_id = '{batch_id}'"
        )
        assert tags == [(f"cc-{batch_id}",)]
        assert query(
            db,
            "select count(*) from marts.cost_by_cohort "
            f"where cohort_key = 'cost_center' and cohort_value = 'cc-{batch_id}'",
        ) == [(1,)]

    # 6. Invoices imported into the ops store (raw_batchledger.invoice_lines): the tie-out
    # follows. As with tags, the first invoice finds the table with all its columns, so each
    # build is incremental, and the same file again changes nothing.
    invoices = {
        "october.csv": "month,description,amount_usd\n2026-10,Batch inference October,0.02\n",
        "november.csv": (f"month,model,amount_usd\n2026-11,{REPRICED_MODEL},0.01\n"),
    }
    for name, text in invoices.items():
        (tmp_path / name).write_text(text)
        invoice = read_invoice(tmp_path / name)
        done = record_invoice(settings, invoice, imported_at="2026-12-01T00:00:00Z")
        assert done.outcome == "imported"
        assert mode(ingest(settings)) == "incremental"
    invoiced = query(
        db,
        "select strftime(invoice_month, '%Y-%m'), reconciliation_level, model, invoiced_usd "
        "from marts.invoice_reconciliation where invoice_lines > 0 order by all",
    )
    assert [(month, level, model, str(usd)) for month, level, model, usd in invoiced] == [
        ("2026-10", "month", None, "0.020000000000000000"),
        ("2026-11", "model", REPRICED_MODEL, "0.010000000000000000"),
        ("2026-11", "month", None, "0.010000000000000000"),
    ]
    again = record_invoice(settings, invoice, imported_at="2026-12-02T00:00:00Z")
    assert again.outcome == "unchanged"

    # 7. Nothing new again.
    assert mode(ingest(settings)) == "up_to_date"

    # The marts after incremental runs equal a full rebuild of the same raw tables.
    assert_marts_equal_a_full_rebuild(db, tmp_path, every_mart_has_rows=True)


def assert_marts_equal_a_full_rebuild(
    db: Path, tmp_path: Path, *, every_mart_has_rows: bool = False
) -> None:
    """The marts of `db` equal a full rebuild of the same raw tables, row for row. The copy is
    laid out as an ingest's working database (folder, file and dbt folder names), so its build
    starts from the shared parse; its unit tests already ran in the ingest's first build."""
    rebuilt = tmp_path / "rebuild" / "warehouse.duckdb"
    rebuilt.parent.mkdir()
    shutil.copyfile(db, rebuilt)
    outcome = run_dbt(
        rebuilt,
        ("build", "--full-refresh", "--exclude", "test_type:unit"),
        artifacts_dir=dbt_artifacts_dir(rebuilt.parent),
        cache_dir=dbt_cache_dir(rebuilt.parent),
    )
    assert outcome.success, outcome.failures
    con = duckdb.connect(str(rebuilt), read_only=True)
    try:
        con.execute(f"attach '{db}' as incremental (read_only)")
        for mart in MARTS:
            if every_mart_has_rows:
                total = con.execute(f"select count(*) from marts.{mart}").fetchone()
                assert total is not None and total[0] > 0, mart
            # Which build wrote a row is the one column that may differ.
            columns = "* exclude (_build_id)" if "_build_id" in names(con, mart) else "*"
            for left, right in (("marts", "incremental.marts"), ("incremental.marts", "marts")):
                differ = con.execute(
                    f"select count(*) from (select {columns} from {left}.{mart} "
                    f"except all select {columns} from {right}.{mart})"
                ).fetchone()
                assert differ == (0,), (mart, left, right)
    finally:
        con.close()


@pytest.mark.slow
def test_a_dedicated_window_that_gains_a_job_is_recomputed(
    project: Project, tmp_path: Path
) -> None:
    """A second job on the demo's dedicated endpoint, in the same billing window, arrives after
    the first was costed: the incremental build rebuilds the first job too (its token share
    falls), the window still adds up exactly, and the marts equal a full rebuild."""
    second = demo._JobPlan(
        demo._at("2026-11-12T10:40:00"), demo.DEDICATED_LLAMA, 12, "growth", "lead-scoring", "de2",
        30, 1200, max_tokens=128,
    )  # fmt: skip
    # 10:35: the demo's dedicated job (10:00 + 45 s + 30 min) is done; the second not created.
    scenario = demo._build(
        (*demo._DEMO_JOBS, second), demo._at("2026-11-12T10:35:00"), demo.DEMO_SEED
    )
    first_id, second_id = (
        job.batch_id for job in scenario.jobs if job.items[0].model == demo.DEDICATED_LLAMA
    )
    with Emulator(scenario=scenario, api_key=TEST_API_KEY, time_scale=0.0) as emulator:
        settings = make_settings(tmp_path, emulator.base_url)
        db = settings.db_path
        assert mode(ingest(settings)) == "full"
        window_sql = (
            "select line_kind, batch_id, cost_usd, endpoint_cost_usd "
            "from marts.dedicated_endpoint_costs where endpoint = ? and is_costed"
        ).replace("?", f"'{demo.DEDICATED_LLAMA}'")
        before = {(kind, batch): cost for kind, batch, cost, _ in query(db, window_sql)}
        assert set(before) == {("job", first_id), ("idle", None)}

        emulator.advance(3600)
        assert mode(ingest(settings)) == "incremental"
        assert {first_id, second_id} <= rebuilt_batches(db)
        after = query(db, window_sql)
        costs = {(kind, batch): cost for kind, batch, cost, _ in after}
        assert set(costs) == {("job", first_id), ("job", second_id), ("idle", None)}
        # The window's jobs ran longer, so they carry more and the idle less; the first job's
        # share of it is smaller than the whole it carried alone only if the union grew less
        # than its token share fell, so only the totals are certain:
        assert costs[("idle", None)] < before[("idle", None)]
        assert sum(costs.values()) == after[0][3]
        assert job_cost(db, first_id) == costs[("job", first_id)]
        assert job_cost(db, second_id) == costs[("job", second_id)]
        assert_marts_equal_a_full_rebuild(db, tmp_path)


def test_any_change_to_the_dbt_project_or_prices_changes_the_fingerprint(
    project: Project,
) -> None:
    """Models, macros, seeds, vars and the profile are all inputs; build output is not."""
    baseline = dbt_inputs_fingerprint()
    (project.dbt_dir / "target").mkdir(exist_ok=True)
    (project.dbt_dir / "target" / "run_results.json").write_text("{}")
    assert dbt_inputs_fingerprint() == baseline
    for path in (
        project.dbt_dir / "profiles.yml",
        project.dbt_dir / "dbt_project.yml",
        project.dbt_dir / "models" / "marts" / "cost_by_month.sql",
        project.dbt_dir / "macros" / "money.sql",
        project.dbt_dir / "seeds" / "budgets.csv",
        project.prices_dir / "model_prices.csv",
    ):
        original = path.read_bytes()
        path.write_bytes(original + b"\n")
        assert dbt_inputs_fingerprint() != baseline, path
        path.write_bytes(original)
    assert dbt_inputs_fingerprint() == baseline


@pytest.mark.slow
def test_a_failed_build_is_followed_by_a_full_one_even_after_the_edit_is_undone(
    project: Project, emulator: Emulator, tmp_path: Path
) -> None:
    """A failed build can leave new seeds and models in the working database; undoing the edit
    makes the inputs look like the last good build's, but the next build must still be full,
    or marts priced from the bad seed would be published."""
    settings = make_settings(tmp_path, emulator.base_url)
    ingest(settings)
    db = settings.db_path
    good = query(db, "select sum(cost_usd) from marts.fct_batch_items")
    prices = project.prices_dir / "model_prices.csv"
    original = prices.read_text()
    repriced = original.replace(
        f"together,{REPRICED_MODEL},batch,0.44,0.44,", f"together,{REPRICED_MODEL},batch,44,44,"
    )
    assert repriced != original
    # A duplicate price row fails the seed's uniqueness test after the seed was loaded.
    first_row = original.splitlines()[1]
    prices.write_text(repriced + first_row + "\n")
    with pytest.raises(Exception, match="dbt build failed"):
        ingest(settings)
    assert read_build_state(settings.work_dir) is None
    assert query(db, "select sum(cost_usd) from marts.fct_batch_items") == good
    prices.write_text(original)
    emulator.advance(3 * 3600)
    after = ingest(settings)
    assert mode(after) == "full"
    assert after.build is not None
    assert after.build.reason.startswith("no record of the last build")
    # Every item is priced from the restored seed again: each item's cost is the one the
    # independent Decimal computation gives for the scenario at this time (expected.py).
    expected = expected_demo_items(replace(emulator.scenario, now=emulator.now()), prices)
    assert dict(
        query(db, "select batch_id || '/' || custom_id, cost_usd from marts.fct_batch_items")
    ) == {f"{batch}/{custom}": item.cost_usd for (batch, custom), item in expected.items()}
