"""Where the project's own folders are, independent of the working directory."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
PRICES_DIR = PROJECT_ROOT / "prices"
# The demo's invoice, imported into the demo's ops store by `make ingest` without a key. It sits
# with the emulator's demo data: the project's top level is fixed.
DEMO_INVOICE = Path(__file__).resolve().parent / "emulator" / "data" / "together-invoice-demo.csv"
