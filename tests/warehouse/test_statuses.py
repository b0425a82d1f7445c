"""The status lists have one home on each side, statuses.py and macros/batch_statuses.sql, and
the two say the same."""

from __future__ import annotations

import ast
import re

from batchledger.paths import DBT_PROJECT_DIR
from batchledger.statuses import STATUS_ALIASES, TERMINAL_STATUSES, is_terminal

MACROS = (DBT_PROJECT_DIR / "macros" / "batch_statuses.sql").read_text()


def _returned(macro: str) -> object:
    """The literal a macro returns: `{{ return([...]) }}` or `{{ return({...}) }}`."""
    body = re.search(rf"macro {macro}\(.*?endmacro", MACROS, re.S)
    assert body, macro
    found = re.search(r"return\((.*?)\) \}\}", body.group(0), re.S)
    assert found, macro
    return ast.literal_eval(found.group(1))


def test_python_and_sql_list_the_same_terminal_statuses_and_aliases() -> None:
    assert set(_returned("terminal_batch_statuses")) == TERMINAL_STATUSES
    assert _returned("batch_status_aliases") == STATUS_ALIASES


def test_the_staging_model_takes_terminal_statuses_from_the_macro() -> None:
    sql = (
        DBT_PROJECT_DIR / "models" / "staging" / "together" / "stg_together__batches.sql"
    ).read_text()
    assert "is_terminal_batch_status('status')" in sql


def test_any_case_and_either_spelling_is_terminal() -> None:
    for status in ("completed", "Cancelled", "CANCELED", "canceled", "EXPIRED"):
        assert is_terminal({"status": status}), status
    for status in ("IN_PROGRESS", "CANCELING", "cancelling", "VALIDATING", ""):
        assert not is_terminal({"status": status}), status
