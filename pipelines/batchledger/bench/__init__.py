"""`make bench`: the end-to-end scale benchmark (see docs/benchmarks.md).

Case L: BENCH_LINES result lines (default 1,000,000) in jobs of 50,000 lines: DuckDB's read_json
as the yardstick, our parse, then the real CLI: cold ingest, no-op ingest, one new job and
`transform --full-refresh`. Case S: BENCH_SMALL_JOBS jobs (default 2,000) of 20 lines.
Every step runs in a fresh child process. Figures are printed, never asserted: timings on a
shared machine are not a test.

    make bench
    BENCH_LINES=10000000 make bench
    BENCH_CASES=small BENCH_REPEATS=1 make bench
"""

from batchledger.bench.lines import write_output_file

__all__ = ["write_output_file"]
