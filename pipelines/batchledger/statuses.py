"""Together's batch statuses: the one list the client, the source, the ops commands, the emulator
and the dbt project (macros/batch_statuses.sql, kept in step by a test) all use."""

from __future__ import annotations

from typing import Any

# Output and error files no longer change after these.
TERMINAL_STATUSES = frozenset({"COMPLETED", "FAILED", "EXPIRED", "CANCELLED"})
# Terminal statuses that deserve an alert of their own, whatever the item counts say.
BAD_END_STATUSES = frozenset({"FAILED", "EXPIRED", "CANCELLED"})
# Other spellings of Together's statuses, read as the status they name.
STATUS_ALIASES = {"CANCELED": "CANCELLED", "CANCELLING": "CANCELING"}


def status_of(batch: dict[str, Any]) -> str:
    """A batch object's status as Together spells it: upper case, aliases resolved."""
    status = str(batch.get("status", "")).upper()
    return STATUS_ALIASES.get(status, status)


def is_terminal(batch: dict[str, Any]) -> bool:
    return status_of(batch) in TERMINAL_STATUSES
