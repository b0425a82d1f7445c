"""Constants of the together_batches source."""

import os

DATASET_NAME = "raw_together"
PIPELINE_NAME = "together_batches"

# Bytes of file per Arrow chunk: big enough for vectorised parsing, small enough to bound memory.
CHUNK_BYTES = 4 << 20
# Rows per Arrow batch handed to dlt.
RESULT_BATCH_ROWS = 20_000
# Quarantined lines keep this much raw text: enough to diagnose, not a copy of a prompt.
QUARANTINE_TEXT_CHARS = 1_000

LINE_KEY = ("file_id", "line_number")
# Every table the source writes. Each exists from the first run, empty until its first row.
RAW_TABLES = frozenset(
    {
        "batches",
        "batch_status_history",
        "files",
        "file_loads",
        "batch_requests",
        "batch_results",
        "quarantine",
        "endpoints",
    }
)

# The parse connection's limits: DuckDB spills to disk past the memory limit instead of growing.
PARSE_MEMORY_LIMIT = "512MB"
PARSE_THREADS = max(1, min(4, os.cpu_count() or 1))
# Landed files parsed by one query: files share a query's fixed cost (a connection and a scan
# start, ~45 ms), while the bytes cap bounds the downloads waiting on disk for one parse. At
# 64 MB every 50 MB result file was a query of its own: parsing 1M lines took 2.45 s; at 256 MB,
# 1.6 s, with the parse's peak RSS 230 -> 265 MB (DuckDB streams the files; it holds none). At
# 1 GB (the 1M lines' 950 MB in one query), 1.05-1.14 s against 1.25-1.42 s at 256 MB, and the
# peak RSS 252 MB against 264 MB.
GROUP_MAX_BYTES = 1 << 30
GROUP_MAX_FILES = 400
