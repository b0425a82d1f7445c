"""The typer commands of operations: submit, status, cancel, retry, watch (the work is in ops/).

`register` adds them to the app."""

from __future__ import annotations

import json
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.live import Live
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from batchledger.cli.errors import console, err_console, friendly_errors
from batchledger.landing import local_name
from batchledger.ops.api import (
    format_age,
    format_usd,
    open_client,
    progress_bar,
    progress_of,
    short_id,
)
from batchledger.ops.errors import OpsError, OpsUsageError
from batchledger.ops.estimate import Estimate, estimate
from batchledger.ops.followup import (
    FileSource,
    followup_endpoint,
    item_outcomes,
    select_retry,
    write_followup,
)
from batchledger.ops.marts import JobFigures, job_figures
from batchledger.ops.submit import (
    Submitted,
    batch_endpoint,
    checked_file,
    parse_tags,
    submit_checked,
    unavailable_for_batch,
    wait_for,
)
from batchledger.settings import Settings, demo_notice, load_settings, warehouse_to_read
from batchledger.statuses import TERMINAL_STATUSES
from batchledger.store import find_submission
from batchledger.together import TogetherClient

if TYPE_CHECKING:
    from batchledger.ops.watch import WatchEvent

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Submit without asking.")]


def _print_json(payload: Any) -> None:
    # Plain print: rich would wrap long lines and break the JSON.
    typer.echo(json.dumps(payload, indent=2, default=str))


def _money(value: Decimal | str | None) -> str:
    return format_usd(Decimal(str(value))) if value is not None else "?"


# -- submit -------------------------------------------------------------------------------------


def submit(
    file: Annotated[Path, typer.Argument(help="The batch input JSONL.", show_default=False)],
    model: Annotated[
        str | None, typer.Option("--model", help="Model for lines whose body names none.")
    ] = None,
    max_tokens: Annotated[
        int | None,
        typer.Option("--max-tokens", min=1, help="max_tokens for lines that set none."),
    ] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="key=value batch tag; repeatable.")
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the job, then ingest.")] = False,
    interval: Annotated[
        float, typer.Option("--interval", min=0.0, help="Seconds between polls with --wait.")
    ] = 10.0,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Submit even models Together lists as not available for batch."
        ),
    ] = False,
    endpoint: Annotated[
        str | None,
        typer.Option(
            "--endpoint",
            help="/v1/audio/transcriptions or /v1/audio/translations for audio lines "
            "(method FILE); chat otherwise.",
        ),
    ] = None,
    yes: YesOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Validate, estimate and submit a batch input JSONL.

    Every invalid line is reported with its number and nothing is uploaded. The estimate is an
    upper bound: prompt tokens (chars/4) plus max_tokens per line at the batch rate in prices/.
    A model Together's batch page lists as not available for batch is refused (a warning with
    --force); a model without a batch discount is submitted at standard rates.

    Examples:
      batchledger submit requests.jsonl --tag team=search --tag project=rewrite
      batchledger submit requests.jsonl --model Qwen/Qwen2.5-7B-Instruct-Turbo \\
          --max-tokens 256 --yes
      batchledger submit requests.jsonl --yes --wait --interval 30
      batchledger submit calls.jsonl --endpoint /v1/audio/transcriptions --yes

    Audio lines are priced per minute of audio from the duration their results report,
    which Together gives only for response_format verbose_json: submit warns about lines
    that ask for another format (they would be unpriced).
    """
    settings = load_settings()
    tags = parse_tags(tag or [])
    checked = checked_file(file, model=model, max_tokens=max_tokens)
    unavailable = unavailable_for_batch(checked, force=force)
    batch_on = batch_endpoint(checked, endpoint)
    result = estimate(checked.requests)
    out = Console(stderr=True) if as_json else console
    print_estimate(result, out)
    for warning in unavailable:
        out.print(f"[yellow]warning:[/] {warning}", highlight=False)
    confirm(yes, f"Submit {len(checked.requests)} request(s) from {file.name}?")
    with open_client(settings) as client:
        done = submit_checked(client, settings, file, checked, result, tags=tags, endpoint=batch_on)
        job = done.job
        if not as_json:
            _print_submitted(done)
        if wait:
            job = _wait_with_bar(client, done.submission.batch_id, out, interval=interval)
    figures = _ingest_after_wait(settings, out) if wait else {}
    if as_json:
        payload = _submitted_json(done, job)
        if wait:
            payload["figures"] = _figures_json(figures.get(str(job["id"])))
        _print_json(payload)
    elif wait:
        _print_summary(job, figures.get(str(job["id"])))


def print_estimate(result: Estimate, out: Console) -> None:
    table = Table(title="Upper-bound cost estimate", title_justify="left")
    for column in ("model", "lines", "prompt tokens (est.)", "max output tokens", "rate", "USD"):
        table.add_column(column, justify="left" if column in ("model", "rate") else "right")
    for entry in result.models:
        table.add_row(
            entry.model,
            str(entry.lines),
            f"{entry.prompt_tokens:,}",
            f"{entry.max_output_tokens:,}",
            entry.pricing_mode or "[red]UNPRICED[/]",
            f"{entry.cost_usd:.4f}" if entry.cost_usd is not None else "?",
        )
    out.print(table)
    total = result.total_usd
    if total is None:
        out.print(f"At most ${result.priced_usd:.4f} for the priced models, plus unpriced ones")
    else:
        out.print(f"At most [bold]${total:.4f}[/]")
    for warning in result.warnings:
        out.print(f"[yellow]warning:[/] {warning}", highlight=False)


def _wait_with_bar(
    client: TogetherClient, batch_id: str, out: Console, *, interval: float
) -> dict[str, Any]:
    """`wait_for` with a progress bar (transient: gone once the job ends)."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f}%"),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=out,
        transient=True,
    ) as progress:
        task = progress.add_task(f"batch {short_id(batch_id)}", total=100.0, status="")

        def polled(status: str, percent: float) -> None:
            progress.update(task, completed=percent, status=status)

        return wait_for(client, batch_id, interval=interval, on_poll=polled)


def _ingest_after_wait(settings: Settings, out: Console) -> dict[str, JobFigures]:
    from batchledger.cli.progress import load_progress
    from batchledger.ingest import run_ingest

    with load_progress(out) as shown:
        run_ingest(settings, build=True, on_event=shown)
    return job_figures(settings.db_path)


def _print_submitted(done: Submitted) -> None:
    batch_id = done.submission.batch_id
    console.print(f"Submitted batch [bold]{batch_id}[/] ({done.job.get('status')})")
    if done.warning:
        console.print(f"[yellow]Together says:[/] {done.warning}")


def _submitted_json(done: Submitted, job: dict[str, Any]) -> dict[str, Any]:
    return {
        "batch_id": done.submission.batch_id,
        "status": job.get("status"),
        "input_file_id": done.submission.input_file_id,
        "model": done.submission.model,
        "lines": done.submission.lines,
        "tags": done.submission.tags,
        "estimate": {
            "total_usd": done.submission.estimate_usd,
            "models": [m.as_json() for m in done.estimate.models],
            "warnings": done.estimate.warnings,
        },
        "warning": done.warning,
    }


def _figures_json(figures: JobFigures | None) -> dict[str, Any] | None:
    if figures is None:
        return None
    return {
        "items_succeeded": figures.items_succeeded,
        "items_failed": figures.items_failed,
        "items_not_processed": figures.items_not_processed,
        "total_tokens": figures.total_tokens,
        # Fixed-point text, never exponent notation (a zero DECIMAL(38,18) is "0E-18").
        "cost_usd": f"{figures.cost_usd:f}" if figures.cost_usd is not None else None,
        "unpriced_items": figures.unpriced_items,
        "is_cost_final": figures.is_cost_final,
        "pricing_kind": figures.pricing_kind,
        "audio_seconds": f"{figures.audio_seconds:f}" if figures.audio_seconds else None,
    }


def _print_summary(job: dict[str, Any], figures: JobFigures | None) -> None:
    console.print(f"Batch [bold]{job['id']}[/] ended [bold]{job.get('status')}[/]")
    if figures is None:
        console.print("Item counts and cost are not in the warehouse yet.")
        return
    console.print(
        f"  succeeded {figures.items_succeeded}, failed {figures.items_failed}, "
        f"not processed {figures.items_not_processed}, tokens {figures.total_tokens:,}, "
        f"cost {_money(figures.cost_usd)}"
    )


# -- status -------------------------------------------------------------------------------------


def resolve_batch_id(given: str, known: list[str]) -> str:
    """A full batch id from `given`: itself when known, else the one known id it starts (the
    table shows ids cut to 8 characters); unknown ids pass through for the API to judge."""
    if given in known:
        return given
    matches = sorted({batch_id for batch_id in known if batch_id.startswith(given)})
    if len(matches) > 1:
        raise OpsError(f"{given!r} starts {len(matches)} batch ids: " + ", ".join(matches[:5]))
    return matches[0] if matches else given


def _status_rows(settings: Settings, batch_id: str | None) -> list[dict[str, Any]]:
    figures = job_figures(settings.db_path)
    if settings.api_key:
        with open_client(settings) as client:
            if batch_id:
                known = list(figures)
                if batch_id not in known and len(batch_id) < 36:
                    known += [str(job.get("id")) for job in client.list_batches()]
                jobs = [client.get_batch(resolve_batch_id(batch_id, known))]
            else:
                jobs = client.list_batches()
    else:
        # No key: show what the warehouse knows, as of the last ingest.
        if not figures:
            from batchledger.together.errors import TogetherAuthError

            where = (
                f"{settings.db_path} shows no jobs (none yet, or its marts could not be read)"
                if settings.db_path.exists()
                else f"no warehouse at {settings.db_path}"
            )
            raise TogetherAuthError(
                f"No API key, and {where}: set TOGETHER_API_KEY, or point BATCHLEDGER_DB at "
                "a warehouse that `make ingest` built"
            )
        wanted = resolve_batch_id(batch_id, list(figures)) if batch_id else None
        jobs = [
            {"id": f.batch_id, "model_id": f.model, "status": f.status, "created_at": f.created_at}
            for f in figures.values()
            if wanted is None or f.batch_id == wanted
        ]
        if not jobs:
            from batchledger.together.errors import TogetherNotFoundError

            raise TogetherNotFoundError(
                f"Batch {batch_id} not found in {settings.db_path} "
                f"({len(figures)} jobs, as of the last ingest)"
            )
    rows = []
    for job in jobs:
        fig = figures.get(str(job.get("id")))
        rows.append(
            {
                "batch_id": job.get("id"),
                "model": job.get("model_id"),
                "status": job.get("status"),
                "progress": progress_of(job) if "progress" in job else None,
                "created_at": job.get("created_at"),
                "age": format_age(job.get("created_at")),
                **(_figures_json(fig) or {}),
            }
        )
    # Newest first, whichever source the rows came from.
    rows.sort(key=lambda row: str(row.get("created_at") or ""), reverse=True)
    return rows


def _audio_seconds(seconds: str) -> str:
    # Whole seconds, so the table fits 80 columns; --json has them exact.
    return f"{Decimal(seconds):,.0f} s"


def _status_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="Batch jobs", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    # Progress comes from the API only: without a key the column would be empty.
    with_progress = any(row["progress"] is not None for row in rows)
    columns = ["id", "model", "status", "progress", "ok", "failed", "tokens", "cost", "age"]
    if not with_progress:
        columns.remove("progress")
    all_cells = []
    for row in rows:
        known = "items_succeeded" in row
        cells = {
            "id": short_id(str(row["batch_id"])),
            # The organisation prefix adds width, not information, in a table.
            "model": str(row["model"] or "?").rsplit("/", 1)[-1]
            + (" (dedicated)" if known and row["pricing_kind"] == "dedicated" else ""),
            "status": str(row["status"]),
            "progress": progress_bar(row["progress"], width=10)
            if row["progress"] is not None
            else "",
            "ok": str(row["items_succeeded"]) if known else "",
            "failed": str(row["items_failed"]) if known else "",
            # An audio job has seconds of audio, not tokens.
            "tokens": _audio_seconds(row["audio_seconds"])
            if known and row["audio_seconds"]
            else f"{row['total_tokens']:,}"
            if known
            else "",
            # A job with items but no price is flagged, never shown as $0, and a partly
            # priced one says that its figure leaves items out.
            "cost": (
                ""
                if not known
                else "unpriced"
                if row["cost_usd"] is None
                else ("~" if not row["is_cost_final"] else "")
                + _money(row["cost_usd"])
                + ("*" if row["unpriced_items"] else "")
            ),
            "age": row["age"],
        }
        all_cells.append(cells)
    for column in columns:
        numeric = column in ("ok", "failed", "tokens", "cost")
        # Only the model may wrap: ids and statuses must stay greppable on narrow terminals,
        # and it keeps a minimum width so a narrow terminal never squeezes it to nothing.
        # Figures are never cut: their column is as wide as its widest figure.
        widest = max((len(cells[column]) for cells in all_cells), default=0)
        table.add_column(
            column,
            justify="right" if numeric else "left",
            no_wrap=column != "model",
            min_width=widest if numeric or column == "id" else {"model": 12, "age": 3}.get(column),
        )
    for cells in all_cells:
        table.add_row(*(cells[column] for column in columns))
    notes = []
    if any(cell["cost"].startswith("~") for cell in all_cells):
        notes.append("~ still running: the cost so far")
    if any(cell["tokens"].endswith(" s") for cell in all_cells):
        notes.append("s: seconds of audio, what an audio job is billed by (it has no tokens)")
    if any(cell["cost"].endswith("*") for cell in all_cells):
        notes.append("* some items unpriced, left out of the cost (--json: unpriced_items)")
    if notes:
        table.caption = "\n".join(notes)
    return table


def status(
    batch_id: Annotated[str | None, typer.Argument(help="One job; all jobs without it.")] = None,
    watch: Annotated[bool, typer.Option("--watch", help="Refresh in place until Ctrl-C.")] = False,
    interval: Annotated[
        float, typer.Option("--interval", min=0.1, help="Seconds between refreshes.")
    ] = 5.0,
    as_json: JsonOpt = False,
) -> None:
    """Show jobs: status and progress from the API, counts and cost from the warehouse.

    Without TOGETHER_API_KEY it shows the warehouse's view as of the last ingest.

    Examples:
      batchledger status
      batchledger status 8e167658-... --json
      batchledger status --watch --interval 10
    """
    settings = load_settings()
    # No key and no real warehouse: show the demo that `make ingest` built, if any.
    demo = warehouse_to_read(settings)
    if demo.demo and demo.db_path.exists():
        settings = demo
        err_console.print(demo_notice(demo))
    rows = _status_rows(settings, batch_id)
    if as_json:
        _print_json(rows)
        return
    if not watch:
        console.print(_status_table(rows))
        return
    try:
        with Live(_status_table(rows), console=console, auto_refresh=False) as live:
            # With one job, stop once it has ended; the full table runs until Ctrl-C.
            while not (batch_id and rows and str(rows[0]["status"]).upper() in TERMINAL_STATUSES):
                time.sleep(interval)
                rows = _status_rows(settings, batch_id)
                live.update(_status_table(rows), refresh=True)
    except KeyboardInterrupt:
        pass


# -- cancel -------------------------------------------------------------------------------------


def cancel(
    batch_id: Annotated[str, typer.Argument(help="The job to cancel.", show_default=False)],
    as_json: JsonOpt = False,
) -> None:
    """Cancel a job and report what it had already finished and billed.

    Examples:
      batchledger cancel 8e167658-0c1f-4a4e-9a39-2b1e5f0d6c11
      batchledger cancel 8e167658-0c1f-4a4e-9a39-2b1e5f0d6c11 --json
    """
    settings = load_settings()
    with open_client(settings) as client:
        job = client.cancel_batch(batch_id)
    figures = job_figures(settings.db_path).get(batch_id)
    billed = figures.cost_usd if figures is not None else None
    if as_json:
        _print_json(
            {
                "batch_id": batch_id,
                "status": job.get("status"),
                "progress": progress_of(job),
                "billed_usd": str(billed) if billed is not None else None,
            }
        )
        return
    console.print(
        f"Batch [bold]{batch_id}[/] is now [bold]{job.get('status')}[/]; "
        f"{progress_of(job):.1f}% had finished before the cancel."
    )
    if billed is not None:
        console.print(f"Billed so far (last ingest): {_money(billed)}")
    else:
        console.print("Billed cost: unknown until the next ingest (finished items are billed).")


# -- retry --------------------------------------------------------------------------------------


def retry(
    batch_id: Annotated[str, typer.Argument(help="The finished job to retry.", show_default=False)],
    codes: Annotated[
        list[str] | None,
        typer.Option("--codes", help="Only failed items with this error code; repeatable."),
    ] = None,
    include_not_processed: Annotated[
        bool, typer.Option("--include-not-processed", help="Also items never processed.")
    ] = False,
    truncate_chars: Annotated[
        int | None, typer.Option("--truncate-chars", min=1, help="Cut message texts to N chars.")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Where to write the follow-up JSONL.")
    ] = None,
    submit_it: Annotated[
        bool, typer.Option("--submit", help="Submit the follow-up, linked to its parent.")
    ] = False,
    yes: YesOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Write a follow-up JSONL of a job's failed (and unprocessed) items; optionally submit it.

    Request bodies come from the ingest's landing copy of the input file, or a fresh download.

    Examples:
      batchledger retry 8e167658-... --include-not-processed -o retry.jsonl
      batchledger retry 8e167658-... --codes timeout --codes context_length_exceeded \\
          --truncate-chars 8000 --submit --yes
    """
    settings = load_settings()
    # The id is typed by the user but may be anything: it names a file only through local_name.
    dest = output or Path(f"retry-{local_name(short_id(batch_id), suffix='.jsonl')}")
    with open_client(settings) as client:
        job = client.get_batch(batch_id)
        files = FileSource(settings, client)
        try:
            outcomes = item_outcomes(job, files)
        finally:
            files.close()
        selected = select_retry(outcomes, codes=codes, include_not_processed=include_not_processed)
        payload: dict[str, Any] = {
            "batch_id": batch_id,
            "status": outcomes.status,
            "failed": len(outcomes.failed),
            "not_processed": len(outcomes.not_processed),
            "selected": len(selected),
            "output": None,
            "submitted_batch_id": None,
        }
        if not selected:
            _report_retry(payload, as_json)
            return
        write_followup(outcomes, selected, dest, truncate_chars=truncate_chars)
        payload["output"] = str(dest)
        if submit_it:
            payload["submitted_batch_id"] = _submit_followup(
                client, settings, dest, batch_id, followup_endpoint(job), yes, quiet=as_json
            )
    _report_retry(payload, as_json)


def _submit_followup(
    client: TogetherClient,
    settings: Settings,
    dest: Path,
    parent: str,
    parent_endpoint: str | None,
    yes: bool,
    *,
    quiet: bool,
) -> str:
    checked = checked_file(dest, model=None, max_tokens=None)
    # On the parent's endpoint: an audio job's follow-up is audio too, never chat.
    endpoint = batch_endpoint(checked, parent_endpoint)
    result = estimate(checked.requests)
    print_estimate(result, Console(stderr=True) if quiet else console)
    confirm(yes, f"Submit {len(checked.requests)} retried request(s)?")
    parent_submission = find_submission(settings, parent)
    # The retry inherits its parent's tags, so its cost lands in the same cohorts.
    tags = dict(parent_submission.tags) if parent_submission else {}
    done = submit_checked(
        client,
        settings,
        dest,
        checked,
        result,
        tags=tags,
        parent_batch_id=parent,
        endpoint=endpoint,
    )
    return done.submission.batch_id


def _report_retry(payload: dict[str, Any], as_json: bool) -> None:
    if as_json:
        _print_json(payload)
        return
    console.print(
        f"Batch {payload['batch_id']} ({payload['status']}): {payload['failed']} failed, "
        f"{payload['not_processed']} not processed; {payload['selected']} selected."
    )
    if payload["output"] is None:
        console.print("Nothing to retry.")
        return
    console.print(f"Wrote {payload['output']}")
    if payload["submitted_batch_id"]:
        console.print(f"Submitted follow-up batch [bold]{payload['submitted_batch_id']}[/]")


def watch(
    interval: Annotated[
        float, typer.Option("--interval", min=0.0, help="Seconds between passes.")
    ] = 60.0,
    notify: Annotated[
        str | None, typer.Option("--notify", help="Slack-compatible webhook URL for alerts.")
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit (for cron).")] = False,
    no_ingest: Annotated[
        bool, typer.Option("--no-ingest", help="Alert only; leave ingesting to another job.")
    ] = False,
) -> None:
    """Poll the API, ingest jobs that ended, and alert once per problem (state survives restarts).

    Alerts: a job failed, expired or was cancelled; a job completed with failed or unprocessed
    items; a month's budget (dbt_project/seeds/budgets.csv, marts.budget_status) crossed 80%,
    95% or 100%. They go to stdout and, with --notify, to a webhook as {"text": ...}.

    Examples:
      batchledger watch --interval 120 --notify https://hooks.slack.com/services/...
      */10 * * * * batchledger watch --once --notify https://hooks.slack.com/services/...
    """
    from batchledger.ops.watch import run_pass

    settings = load_settings()
    try:
        while True:
            result = run_pass(
                settings, notify=notify, ingest=not no_ingest, on_event=_print_watch_event
            )
            if once:
                if result.undelivered:
                    # A cron job must see that alerts did not go out (they are sent next pass).
                    raise OpsError(
                        f"{len(result.undelivered)} alert(s) could not be delivered to the "
                        "webhook; they will be sent again on the next pass"
                    )
                return
            time.sleep(interval)
    except KeyboardInterrupt:
        console.print("Stopped.")


def _print_watch_event(event: WatchEvent) -> None:
    from batchledger.ops.watch import AlertRaised, IngestFailed, IngestStarted, WebhookRefused

    if isinstance(event, IngestStarted):
        console.print(f"{event.ended} job(s) ended since the last pass: ingesting")
    elif isinstance(event, IngestFailed):
        console.print(f"[yellow]warning:[/] ingest failed: {event.error}", highlight=False)
    elif isinstance(event, AlertRaised):
        console.print(f"[bold red]ALERT[/] {event.text}", highlight=False, soft_wrap=True)
    elif isinstance(event, WebhookRefused):
        console.print(f"[yellow]warning:[/] webhook delivery failed; will retry: {event.key}")


def confirm(yes: bool, question: str) -> None:
    """--yes, or a terminal to ask on: a cron job must never hang or submit by accident."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise OpsUsageError("stdin is not a terminal: pass --yes to submit without a prompt")
    if not typer.confirm(question, default=False):
        raise OpsUsageError("not submitted")


def register(app: typer.Typer) -> None:
    """Add the ops commands to `app`."""
    for name, func in (
        ("submit", submit),
        ("status", status),
        ("cancel", cancel),
        ("retry", retry),
        ("watch", watch),
    ):
        app.command(name)(friendly_errors(func))
