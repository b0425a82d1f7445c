"""Errors raised by the Together client. Messages are safe to print: they never carry the key."""

from __future__ import annotations


class TogetherError(Exception):
    """Base class for every error the Together client raises."""


class TogetherAuthError(TogetherError):
    """401/403: the key is missing, wrong or lacks access."""


class TogetherNotFoundError(TogetherError):
    """404 on a batch or file."""


class TogetherFileUnavailableError(TogetherNotFoundError):
    """A file's complete content could not be had this run: every attempt was cut short, broke or
    ran past the download time limit. Like a missing file, it is skipped (so everything else still
    loads) and tried again on the next run; a subclass of the 404 error for exactly that reason."""


class TogetherAPIError(TogetherError):
    """Any other non-success answer, after retries where they apply."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class TogetherUnreachableError(TogetherError):
    """Connection errors or timeouts that outlasted every retry."""


class TogetherTimeoutError(TogetherError):
    """A time limit ran out: one API call, one download, or the whole run."""
