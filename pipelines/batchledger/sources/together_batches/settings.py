"""Constants of the together_batches source."""

import os

DATASET_NAME = "raw_together"
PIPELINE_NAME = "together_batches"

# Together's terminal states; output and error files no longer change after these.
TERMINAL_STATUSES = frozenset({"COMPLETED", "FAILED", "EXPIRED", "CANCELLED"})

# Bytes of file per Arrow chunk: big enough for vectorised parsing, small enough to bound memory.
CHUNK_BYTES = 4 << 20
# Rows per Arrow batch handed to dlt.
RESULT_BATCH_ROWS = 20_000
# Quarantined lines keep this much raw text: enough to diagnose, not a copy of a prompt.
QUARANTINE_TEXT_CHARS = 1_000

LINE_KEY = ("file_id", "line_number")

# The parse connection's limits: DuckDB spills to disk past the memory limit instead of growing.
PARSE_MEMORY_LIMIT = "512MB"
PARSE_THREADS = max(1, min(4, os.cpu_count() or 1))
# Landed files parsed by one query: small files share a query's fixed cost (tens of ms), while the
# bytes cap bounds what a group holds and redoes if one of its files needs the careful parse.
GROUP_MAX_BYTES = 64 << 20
GROUP_MAX_FILES = 400
