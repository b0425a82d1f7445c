"""How long and how much the client accepts from a server before it gives up with a clear error."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ClientLimits:
    # One API call (a list, a get, a create), its retries and waits included.
    request_seconds: float = 300.0
    # One file download or upload, its retries and waits included.
    transfer_seconds: float = 1800.0
    # A JSON answer larger than this is refused: the batch list of a big account is a few MB.
    max_json_bytes: int = 64 << 20
    # The dedicated endpoint list is optional (the price seed names endpoints too) and an
    # account has a handful: past this many entries, or ENDPOINT_BYTES each, it is refused
    # unread rather than parsed (a 47 MB list of a million entries took 1.7 GB and 150 s).
    max_endpoints: int = 10_000


# The most one endpoint object may take, on average, in a list under `max_endpoints`: a real
# one is a few hundred bytes.
ENDPOINT_BYTES = 2 << 10


# Read when a client is built, so tests can shorten it for clients made deep inside a run.
DEFAULT_LIMITS = ClientLimits()

# Where each limit is configured, for the messages that name them.
RUN_LIMIT_LABEL = "the run time limit (BATCHLEDGER_RUN_TIMEOUT_SECONDS)"
REQUEST_LIMIT_LABEL = "the time limit for one API call (BATCHLEDGER_REQUEST_TIMEOUT_SECONDS)"
TRANSFER_LIMIT_LABEL = "the time limit for one file transfer (BATCHLEDGER_TRANSFER_TIMEOUT_SECONDS)"
SIZE_LIMIT_SETTING = "BATCHLEDGER_MAX_RESPONSE_MB"
