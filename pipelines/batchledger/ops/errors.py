"""Errors the ops commands raise themselves; cli/errors.py maps each to its exit code."""

from __future__ import annotations


class OpsError(Exception):
    """A failure whose message is fit to print as the one line the user sees."""


class OpsUsageError(OpsError):
    """Bad input from the user: a missing or invalid file, a refused confirmation, a bad option."""
