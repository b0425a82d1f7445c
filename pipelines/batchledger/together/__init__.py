"""The together.ai Batch and Files API client."""

from batchledger.together.client import DEFAULT_BASE_URL, Download, TogetherClient
from batchledger.together.errors import (
    TogetherAPIError,
    TogetherAuthError,
    TogetherError,
    TogetherNotFoundError,
    TogetherUnreachableError,
)
from batchledger.together.retry import Attempts, RetryPolicy

__all__ = [
    "DEFAULT_BASE_URL",
    "Attempts",
    "Download",
    "RetryPolicy",
    "TogetherAPIError",
    "TogetherAuthError",
    "TogetherClient",
    "TogetherError",
    "TogetherNotFoundError",
    "TogetherUnreachableError",
]
