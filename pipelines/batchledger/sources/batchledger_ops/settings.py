"""Constants of the batchledger_ops source."""

DATASET_NAME = "raw_batchledger"
PIPELINE_NAME = "batchledger_ops"
# Every table the source writes. Each exists from the first run, empty until its first row.
RAW_TABLES = frozenset({"submissions", "batch_tags", "invoice_lines"})
