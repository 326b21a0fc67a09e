"""Consumer commands: submit, status, result, cancel, jobs, contributors."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from runsurge.cli import output
from runsurge.client import Client, JobStatus
from runsurge.config import ClientSettings

CoordinatorOpt = Annotated[
    str | None,
    typer.Option(
        "--coordinator", "-c", help="HOST:PORT of the coordinator [env RUNSURGE_COORDINATOR]"
    ),
]
TokenOpt = Annotated[
    str | None,
    typer.Option("--token", help="Consumer token [env RUNSURGE_TOKEN]", show_default=False),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output (docs/cli.md).")]

EXIT_JOB_FAILED = 1


def connect(coordinator: str | None, token: str | None) -> Client:
    """A client from flags, environment or the config file written by `runsurge up`."""
    return Client(coordinator, token, settings=ClientSettings())


def _finish(status: JobStatus, as_json: bool, client: Client) -> None:
    """Print a final job's result (or error) and exit 1 if it did not succeed."""
    if status.state == "SUCCEEDED":
        result = (
            status.result
            if status.result is not None
            else json.loads(client._fetch_result(status.id, 0))
        )
        if as_json:
            output.print_json({"job": status.to_json() | {"result": result}})
        else:
            output.print_json(result)
        return
    if as_json:
        output.print_json({"job": status.to_json()})
    else:
        output.print_status(status)
    raise typer.Exit(EXIT_JOB_FAILED)


def submit(
    script: Annotated[
        Path, typer.Argument(help="Python file defining process(input_data: str) -> dict.")
    ],
    input: Annotated[
        Path, typer.Argument(help="Input file passed to process() as a str ('-' for stdin).")
    ],
    wait: Annotated[bool, typer.Option("--wait", "-w", help="Wait and print the result.")] = False,
    name: Annotated[str, typer.Option(help="A label for listings.")] = "",
    as_json: JsonOpt = False,
    coordinator: CoordinatorOpt = None,
    token: TokenOpt = None,
) -> None:
    """Submit a single job: SCRIPT's process() applied to INPUT."""
    source = sys.stdin.buffer.read() if str(input) == "-" else input
    with connect(coordinator, token) as client:
        job = client.submit(script, source, name=name)
        if not wait:
            status = job.status()
            if as_json:
                output.print_json({"job": status.to_json()})
            else:
                output.out.print(f"submitted job [bold]{job.id}[/]  (runsurge status {job.id})")
            return
        if not as_json:
            output.err.print(f"submitted job [bold]{job.id}[/], waiting…")
        _finish(job.wait(), as_json, client)


def status(
    job_id: Annotated[str, typer.Argument(help="The job's id.")],
    as_json: JsonOpt = False,
    coordinator: CoordinatorOpt = None,
    token: TokenOpt = None,
) -> None:
    """Show a job's state and task counts."""
    with connect(coordinator, token) as client:
        current = client.job(job_id).status()
    if as_json:
        output.print_json({"job": current.to_json()})
    else:
        output.print_status(current)


def result(
    job_id: Annotated[str, typer.Argument(help="The job's id.")],
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait if still running.")] = True,
    as_json: JsonOpt = False,
    coordinator: CoordinatorOpt = None,
    token: TokenOpt = None,
) -> None:
    """Print a job's result (waits for it by default); exit 1 if the job failed."""
    with connect(coordinator, token) as client:
        job = client.job(job_id)
        current = job.wait() if wait else job.status()
        if not current.done:
            output.err.print(f"job {job_id} is still {current.state.lower()}")
            raise typer.Exit(EXIT_JOB_FAILED)
        _finish(current, as_json, client)


def cancel(
    job_id: Annotated[str, typer.Argument(help="The job's id.")],
    as_json: JsonOpt = False,
    coordinator: CoordinatorOpt = None,
    token: TokenOpt = None,
) -> None:
    """Cancel a job: queued tasks never run, running ones are killed."""
    with connect(coordinator, token) as client:
        current = client.job(job_id).cancel()
    if as_json:
        output.print_json({"job": current.to_json()})
    else:
        output.print_status(current)


def jobs(
    limit: Annotated[int, typer.Option(help="How many jobs to list.")] = 20,
    as_json: JsonOpt = False,
    coordinator: CoordinatorOpt = None,
    token: TokenOpt = None,
) -> None:
    """List your most recent jobs."""
    with connect(coordinator, token) as client:
        rows = client.jobs(limit)
    if as_json:
        output.print_json({"jobs": [r.to_json() for r in rows]})
        return
    for row in rows:
        style = output.STATE_STYLE.get(row.state, "white")
        created = row.created_at.strftime("%Y-%m-%d %H:%M:%S") if row.created_at else ""
        output.out.print(
            f"{row.id}  [{style}]{row.state:<10}[/] {row.kind:<6} {created}  {row.name}"
        )


def contributors(
    as_json: JsonOpt = False,
    coordinator: CoordinatorOpt = None,
    token: TokenOpt = None,
) -> None:
    """List the contributors the coordinator knows."""
    with connect(coordinator, token) as client:
        rows = client.contributors()
    if as_json:
        output.print_json({"contributors": rows})
    else:
        output.print_contributors(rows)
