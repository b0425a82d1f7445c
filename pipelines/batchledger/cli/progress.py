"""The download bar of `ingest` and `reprocess`, drawn from the load's events: the source and
the run only tell what happened (plain values); drawing it is the CLI's business."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from batchledger.ingest import DemoStarted, LoadEvent, LoadFinished, LoadStarted, OnLoadEvent
from batchledger.sources.together_batches.events import FileParsed


@contextmanager
def load_progress(console: Console) -> Iterator[OnLoadEvent]:
    """A handler of load events that shows a bar from LoadStarted to LoadFinished (transient:
    it is gone once the files are loaded, before the build and the summary)."""
    progress = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[mb]:.1f} MB"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    task = progress.add_task("Downloading files", total=None, mb=0.0)

    def show(event: LoadEvent) -> None:
        if isinstance(event, DemoStarted):
            console.print(
                "[bold yellow]No TOGETHER_API_KEY set: running on the bundled Together emulator "
                f"with DEMO data[/] ({event.base_url}). Output goes to {event.db_path}, "
                "never to a real warehouse.",
                soft_wrap=True,
            )
        elif isinstance(event, LoadStarted):
            progress.reset(task, total=event.files, mb=0.0)
            progress.start()
        elif isinstance(event, FileParsed):
            megabytes = progress.tasks[task].fields["mb"] + event.bytes / 1e6
            progress.update(task, advance=1, mb=megabytes)
        elif isinstance(event, LoadFinished):
            progress.stop()

    try:
        yield show
    finally:
        progress.stop()
