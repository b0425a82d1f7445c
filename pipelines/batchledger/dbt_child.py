"""The dbt child process: `python -m batchledger.dbt_child [--parse-first] <dbt options>`.

dbt runs in a child process (see transform.py). Importing dbt and parsing the project take
seconds of one core, and none of it needs the warehouse, so the ingest starts this child early:
it imports dbt and, with --parse-first, parses the project while the parent is still
downloading and loading. It then waits for one JSON line on stdin, {"args": [...]}, runs that
dbt command with the parsed manifest and exits with dbt's status: 0 success, 1 a node failed,
2 dbt itself failed. End of input without a line means no build was needed: it exits 0.

The dbt options (project, profiles, target and log paths) come on the command line and apply to
both steps, so the parse is the one the command would have made.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def main(argv: list[str]) -> int:
    parse_first = bool(argv) and argv[0] == "--parse-first"
    options = argv[1:] if parse_first else argv
    from dbt.cli.main import dbtRunner

    manifest: Any = None
    if parse_first:
        parsed = dbtRunner().invoke(["parse", *options])
        # A failed parse is not an error here: the command below parses again and reports it.
        manifest = parsed.result if parsed.success else None
    line = sys.stdin.readline()
    if not line.strip():
        return 0
    request = json.loads(line)
    args = [str(arg) for arg in request["args"]]
    result = dbtRunner(manifest=manifest).invoke([*args, *options])
    if result.success:
        return 0
    return 2 if result.exception is not None else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
