"""Errors raised by the Together client. Messages are safe to print: they never carry the key."""

from __future__ import annotations


class TogetherError(Exception):
    """Base class for every error the Together client raises."""


class TogetherAuthError(TogetherError):
    """401/403: the key is missing, wrong or lacks access."""


class TogetherNotFoundError(TogetherError):
    """404 on a batch or file."""


class TogetherAPIError(TogetherError):
    """Any other non-success answer, after retries where they apply."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class TogetherUnreachableError(TogetherError):
    """Connection errors or timeouts that outlasted every retry."""
