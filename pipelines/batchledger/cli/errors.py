"""Exit codes, the consoles, and the one place known failures become a line on stderr.

Exit codes scripts can rely on: 0 success, 1 failure, 2 bad usage or input, 3 the API refused the
key, 4 a batch or file was not found, 5 the API could not be reached, 6 another ingest is running.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from batchledger.ops.errors import OpsError, OpsUsageError
from batchledger.together import (
    TogetherAuthError,
    TogetherError,
    TogetherNotFoundError,
    TogetherUnreachableError,
)

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_NOT_FOUND = 4
EXIT_UNREACHABLE = 5
EXIT_BUSY = 6

console = Console()
# soft_wrap: an error is one line, however narrow the terminal.
err_console = Console(stderr=True, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])


def exit_codes() -> list[tuple[type[BaseException], int]]:
    """Each known failure and its exit code, the most specific first."""
    # Imported when a command runs: the no-op ingest path must not import what these pull in.
    from batchledger.ingest import IngestError
    from batchledger.invoices import InvoiceError
    from batchledger.published import PublishedError
    from batchledger.warehouse import WarehouseBusyError

    return [
        (OpsUsageError, EXIT_USAGE),
        (InvoiceError, EXIT_USAGE),
        (OpsError, EXIT_FAILURE),
        (TogetherAuthError, EXIT_AUTH),
        (TogetherNotFoundError, EXIT_NOT_FOUND),
        (TogetherUnreachableError, EXIT_UNREACHABLE),
        (TogetherError, EXIT_FAILURE),
        (WarehouseBusyError, EXIT_BUSY),
        (IngestError, EXIT_FAILURE),
        (PublishedError, EXIT_FAILURE),
    ]


def friendly_errors(func: F) -> F:
    """Known failures become one line on stderr and a documented exit code, never a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except Exception as exc:
            root = _root_cause(exc)
            for kind, code in exit_codes():
                if isinstance(root, kind):
                    # escape: the message may quote a file name or a CSV cell such as "[/]".
                    err_console.print(f"[bold red]error:[/] {escape(str(root))}", highlight=False)
                    raise typer.Exit(code) from None
            raise

    return wrapper  # type: ignore[return-value]


def _root_cause(exc: BaseException) -> BaseException:
    """dlt wraps errors raised inside a resource: find ours in the chain, else keep `exc`."""
    seen: BaseException | None = exc
    visited: set[int] = set()
    while seen is not None and id(seen) not in visited:
        if isinstance(seen, TogetherError | OpsError):
            return seen
        visited.add(id(seen))
        seen = seen.__cause__ or seen.__context__
    return exc
