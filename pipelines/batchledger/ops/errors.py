"""Errors the ops commands raise themselves; each carries the CLI exit code it maps to."""

from __future__ import annotations

EXIT_FAILURE = 1
EXIT_USAGE = 2


class OpsError(Exception):
    """A failure whose message is fit to print as the one line the user sees."""

    exit_code = EXIT_FAILURE


class OpsUsageError(OpsError):
    """Bad input from the user: a missing or invalid file, a refused confirmation, a bad option."""

    exit_code = EXIT_USAGE
