"""dlt source for batchledger's own ops store: what `submit` and `retry --submit` recorded.

Together's batch object carries no tags and no lineage, so the ops commands keep them in plain
files beside the warehouse (batchledger.store). This source loads those files on every ingest
so that the marts see each batch's tags (cohorts) and its parent batch (retries).

The source (`source.py`) is imported on first use, like together_batches': dlt is slow to
import, and a run whose ops store did not change never needs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from batchledger.sources.batchledger_ops.source import batchledger_ops

__all__ = ["batchledger_ops"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from batchledger.sources.batchledger_ops import source

        return getattr(source, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
