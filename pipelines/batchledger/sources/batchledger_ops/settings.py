"""Constants of the batchledger_ops source."""

DATASET_NAME = "raw_batchledger"
PIPELINE_NAME = "batchledger_ops"
