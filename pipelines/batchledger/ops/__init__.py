"""Operating batch jobs from the CLI: submit, status, cancel, retry and watch (issue 4)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

import typer

from batchledger.ops.errors import OpsError


def _ops_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """OpsError becomes its message on stderr and its exit code; the rest is friendly_errors'."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except OpsError as exc:
            from batchledger.cli import err_console

            err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None

    return wrapper


def register(app: typer.Typer) -> None:
    """Add the ops commands to `app`; cli.py calls this once, after friendly_errors exists."""
    # Imported here: cli.py imports this package, so a module-level import would be circular.
    from batchledger.cli import friendly_errors
    from batchledger.ops import commands

    for name, func in (
        ("submit", commands.submit),
        ("status", commands.status),
        ("cancel", commands.cancel),
        ("retry", commands.retry),
        ("watch", commands.watch),
    ):
        app.command(name)(friendly_errors(_ops_errors(func)))
