"""dlt source for together.ai Batch Inference: jobs, their files, and every line of those files.

A Together batch object carries no cost, counts or metadata; the per-line `usage` in the result
files is the only record of spend. So this source loads every line of every input, output and
error file, each file exactly once, and keeps the job metadata and its status timeline beside them.

- `source.py`: the dlt source: the `batches` resource and the transformers it feeds.
- `helpers.py`: pure functions: planning what changed, and the streaming parse.
- `events.py`: what the source tells its caller while it runs (files parsed or unavailable).
- `settings.py`: constants.

The source is imported on first use of its names here: importing dlt takes about 2 s, and a run
that finds nothing new plans with helpers.py alone and never needs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from batchledger.sources.together_batches.source import (
        SourceOptions,
        batch_requests,
        batch_results,
        batch_status_history,
        batches,
        files,
        together_batches,
    )

__all__ = [
    "SourceOptions",
    "batch_requests",
    "batch_results",
    "batch_status_history",
    "batches",
    "files",
    "together_batches",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from batchledger.sources.together_batches import source

        return getattr(source, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
