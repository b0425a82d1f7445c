"""What the source tells its caller while it runs: plain values, so that the caller decides how
to show them (the CLI draws a progress bar) and the source knows nothing of a console."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from batchledger.sources.together_batches.helpers import PendingFile


@dataclass(frozen=True)
class FileParsed:
    """A file's lines were handed to dlt (they load with the rest of the package)."""

    file: PendingFile
    bytes: int


@dataclass(frozen=True)
class FileUnavailable:
    """A pending file could not be read; it stays pending and is tried again next run."""

    file: PendingFile
    reason: str


SourceEvent = FileParsed | FileUnavailable
OnEvent = Callable[[SourceEvent], None]
