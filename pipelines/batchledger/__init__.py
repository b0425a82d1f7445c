"""batchledger: what together.ai batch-inference jobs really cost."""

__version__ = "0.1.0"
