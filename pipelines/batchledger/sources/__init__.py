"""dlt sources, one package each in the verified-sources shape: Together's batches and files,
and batchledger's own ops store."""
