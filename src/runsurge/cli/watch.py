"""`runsurge watch`: a job's life as it happens.

Thin over the SDK's `Job.watch()` (`runsurge logs --follow` is in jobs.py).
In a terminal, `watch` keeps a live table of the running tasks' CPU and memory under
the scrolling state changes and outputs; piped, it prints one line per sample, so
its output can be logged or parsed. Ctrl-C stops watching (the job goes on).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import typer
from rich.live import Live
from rich.table import Table

from runsurge.cli import output
from runsurge.cli.jobs import EXIT_JOB_FAILED, CoordinatorOpt, TlsCaOpt, TokenOpt, connect
from runsurge.client import JobStatus, TaskOutput, TaskSample
from runsurge.config import format_size

EXIT_INTERRUPTED = 130


def _state_line(status: JobStatus) -> str:
    style = output.STATE_STYLE.get(status.state, "white")
    t = status.tasks
    line = (
        f"job {status.id} [{style}]{status.state}[/]  "
        f"{t.running} running, {t.queued} queued, {t.succeeded} succeeded, "
        f"{t.failed} failed, {t.cancelled} cancelled"
    )
    if status.waiting_reason:
        line += f"  [yellow]{output.escape(status.waiting_reason)}[/]"
    return line


def _sample_line(sample: TaskSample) -> str:
    return (
        f"task {sample.index}  cpu {sample.cpu_percent:5.1f}%  "
        f"mem {format_size(sample.memory_bytes)}  (attempt {sample.attempt_id})"
    )


def _print_output(task: TaskOutput) -> None:
    style = output.STATE_STYLE.get(task.state, "white")
    output.out.print(f"[bold]── output of input {task.index}[/] ([{style}]{task.state}[/])")
    if task.text:
        output.out.print(task.text.rstrip("\n"), markup=False, highlight=False)
    if task.truncated:
        output.out.print("(truncated: the output was longer than what is kept)")


def _running_table(latest: dict[int, TaskSample]) -> Table:
    table = Table(title="running tasks", title_justify="left")
    for name in ("input", "cpu %", "memory", "attempt"):
        table.add_column(name)
    for index, sample in sorted(latest.items()):
        table.add_row(
            str(index),
            f"{sample.cpu_percent:.1f}",
            format_size(sample.memory_bytes),
            str(sample.attempt_id),
        )
    return table


def watch(
    job_id: Annotated[str, typer.Argument(help="The job's id.")],
    interval: Annotated[
        float, typer.Option("--interval", help="Seconds between looks at the coordinator.")
    ] = 1.0,
    coordinator: CoordinatorOpt = None,
    token: TokenOpt = None,
    tls_ca: TlsCaOpt = None,
) -> None:
    """Follow a job live: state changes, running tasks' CPU and memory, each input's output.

    Ends when the job is final (exit 1 unless it succeeded); Ctrl-C stops watching.
    """
    final: JobStatus | None = None
    try:
        with connect(coordinator, token, tls_ca) as client:
            job = client.job(job_id)
            if output.out.is_terminal:
                final = _watch_live(job.watch(interval))
            else:
                final = _watch_lines(job.watch(interval))
    except KeyboardInterrupt:
        output.err.print(f"stopped watching; job {job_id} goes on")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if final is not None and final.state != "SUCCEEDED":
        raise typer.Exit(EXIT_JOB_FAILED)


Events = Iterator[JobStatus | TaskSample | TaskOutput]


def _watch_lines(events: Events) -> JobStatus | None:
    """One line per event, for pipes and logs."""
    last: JobStatus | None = None
    for event in events:
        if isinstance(event, JobStatus):
            output.out.print(_state_line(event))
            last = event
        elif isinstance(event, TaskSample):
            output.out.print(_sample_line(event))
        elif isinstance(event, TaskOutput):
            _print_output(event)
    return last


def _watch_live(events: Events) -> JobStatus | None:
    """State changes and outputs scroll; the running tasks' latest samples stay below."""
    last: JobStatus | None = None
    latest: dict[int, TaskSample] = {}
    with Live(_running_table(latest), console=output.out, auto_refresh=False) as live:
        for event in events:
            if isinstance(event, JobStatus):
                live.console.print(_state_line(event))
                last = event
                if event.done:
                    latest.clear()
            elif isinstance(event, TaskSample):
                latest[event.index] = event
            elif isinstance(event, TaskOutput):
                latest.pop(event.index, None)
                _print_output(event)
            live.update(_running_table(latest), refresh=True)
    return last
