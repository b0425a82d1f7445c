"""`python -m batchledger.cli`, as the tests and `make` run it."""

from batchledger.cli import app

app()
