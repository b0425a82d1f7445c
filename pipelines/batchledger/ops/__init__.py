"""Operating batch jobs: submit, status, cancel, retry and watch (issue 4), without the CLI.

The typer commands are in batchledger/cli/ops.py; this package knows nothing of typer or exit
codes, so a scheduler or a notebook can call it too.
"""
