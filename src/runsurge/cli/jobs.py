"""Consumer commands: submit (jobs and groups), status, result, logs, cancel, jobs, contributors."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

import typer

from runsurge.cli import groups, output
from runsurge.cli.job_flags import (
    CpuTimeOpt,
    IdempotencyKeyOpt,
    LabelOpt,
    MaxAttemptsOpt,
    PriorityOpt,
    WallTimeOpt,
    job_options,
)
from runsurge.cli.settings_options import setting_option
from runsurge.client import Client, Job, JobStatus
from runsurge.client._options import JobOptions
from runsurge.config import ClientSettings, load_settings

CoordinatorOpt = Annotated[
    str | None, setting_option(ClientSettings, "coordinator", "--coordinator", "-c")
]
TokenOpt = Annotated[str | None, setting_option(ClientSettings, "token", "--token")]
TlsCaOpt = Annotated[Path | None, setting_option(ClientSettings, "tls_ca", "--tls-ca")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output (docs/cli.md).")]

EXIT_JOB_FAILED = 1


def connect(coordinator: str | None, token: str | None, tls_ca: Path | None = None) -> Client:
    """A client from flags, environment or the config file written by `runsurge up`."""
    flags = {"coordinator": coordinator, "token": token, "tls_ca": tls_ca}
    return Client(settings=load_settings(ClientSettings, flags))


def _finish(status: JobStatus, as_json: bool, client: Client) -> None:
    """Print a final job's result (or aggregate, or error); exit 1 if it did not succeed."""
    if status.state == "SUCCEEDED":
        job = client.job(status.id)
        if status.kind == "group" and not (status.aggregate or status.aggregate_script):
            if as_json:
                output.print_json({"job": status.to_json()})
            else:
                groups.write_per_input(job, None)
            groups.report_failures(status)
            return
        result = job.result()
        if as_json:
            output.print_json({"job": status.to_json() | {"result": result}})
        else:
            output.print_json(result)
        groups.report_failures(status)
        return
    output.show_status(status, as_json)
    raise typer.Exit(EXIT_JOB_FAILED)


def submit(
    script: Annotated[
        Path, typer.Argument(help="Python file defining process(input_data: str) -> dict.")
    ],
    inputs: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Input files, each passed to process() as a str ('-' for stdin). "
            "More than one makes a group.",
            show_default=False,
        ),
    ] = None,
    inputs_dir: Annotated[
        Path | None, typer.Option(help="Every file in DIR is an input (sorted by name).")
    ] = None,
    inputs_glob: Annotated[
        str | None, typer.Option(help="Every file matching the pattern is an input ('**' ok).")
    ] = None,
    split_lines: Annotated[
        int | None,
        typer.Option(help="One input per N lines of the (single, large) INPUT file."),
    ] = None,
    aggregate: Annotated[
        list[str] | None,
        typer.Option(
            "--aggregate",
            "-a",
            help="FIELD=REDUCER (sum, mean, min, max, count, concat, merge_counts, histogram, "
            "collect; '*=count', '*=collect'), repeatable; or 'script' for the script's "
            "aggregate(results).",
            show_default=False,
        ),
    ] = None,
    on_error: Annotated[
        str,
        typer.Option(
            help="continue: aggregate the successes; fail-fast: stop at the first failure."
        ),
    ] = "continue",
    group: Annotated[bool, typer.Option("--group", help="Make a group even of one input.")] = False,
    wait: Annotated[bool, typer.Option("--wait", "-w", help="Wait and print the result.")] = False,
    name: Annotated[str, typer.Option(help="A label for listings.")] = "",
    memory: Annotated[
        str | None,
        typer.Option(
            help="The most memory one task may use, e.g. 2GiB; a task that needs more "
            "fails saying so. Default: no limit beyond the largest contributor.",
            show_default=False,
        ),
    ] = None,
    wall_time: WallTimeOpt = None,
    cpu_time: CpuTimeOpt = None,
    max_attempts: MaxAttemptsOpt = None,
    priority: PriorityOpt = 0,
    label: LabelOpt = None,
    idempotency_key: IdempotencyKeyOpt = None,
    as_json: JsonOpt = False,
    coordinator: CoordinatorOpt = None,
    token: TokenOpt = None,
    tls_ca: TlsCaOpt = None,
) -> None:
    """Submit SCRIPT with one INPUT (a job) or many (a group, optionally aggregated)."""
    options = job_options(wall_time, cpu_time, max_attempts, priority, label, idempotency_key)
    sources = groups.InputSources(list(inputs or []), inputs_dir, inputs_glob, split_lines)
    is_group = group or sources.is_group or bool(aggregate)
    if not sources.paths and not (inputs_dir or inputs_glob):
        raise typer.BadParameter("give at least one INPUT, --inputs-dir or --inputs-glob")
    # Inputs are checked before connecting: a mistake never reaches the request stream.
    items = sources.items() if is_group else None
    if items is None and str(sources.paths[0]) != "-":
        groups.check_readable(sources.paths[0])
    with connect(coordinator, token, tls_ca) as client:
        if items is None:
            first = sources.paths[0]
            job = client.submit(
                script,
                sys.stdin.buffer.read() if str(first) == "-" else first,
                name=name,
                memory=memory,
                **options,
            )
        else:
            job = _submit_group(client, script, items, aggregate, on_error, name, memory, options)
        if not wait:
            status = job.status()
            if as_json:
                output.print_json({"job": status.to_json()})
            else:
                output.out.print(f"submitted job [bold]{job.id}[/]  (runsurge status {job.id})")
            return
        if is_group and not as_json:
            final = groups.wait_with_progress(job)
        else:
            if not as_json:
                output.err.print(f"submitted job [bold]{job.id}[/], waiting…")
            final = job.wait()
        _finish(final, as_json, client)


def _submit_group(
    client: Client,
    script: Path,
    items: Iterable[Any],
    aggregate: list[str] | None,
    on_error: str,
    name: str,
    memory: str | None,
    options: JobOptions,
) -> Job:
    specs: Any = aggregate or None
    if aggregate == ["script"]:
        specs = "script"
    with groups.upload_progress() as progress:
        return client.submit_group(
            script,
            groups.counted(items, progress, "uploading inputs"),
            aggregate=specs,
            on_error=on_error,
            name=name,
            memory=memory,
            **options,
        )


def status(
    job_id: Annotated[str, typer.Argument(help="The job's id.")],
    as_json: JsonOpt = False,
    tasks: Annotated[
        bool,
        typer.Option(
            "--tasks",
            help="Also each input's memory: estimate (and what decided it), reservation, "
            "peak. Always shown for a single job.",
        ),
    ] = False,
    coordinator: CoordinatorOpt = None,
    token: TokenOpt = None,
    tls_ca: TlsCaOpt = None,
) -> None:
    """Show a job's state, task counts and (with --tasks) each input's memory."""
    with connect(coordinator, token, tls_ca) as client:
        job = client.job(job_id)
        current = job.status()
        listed = list(job.results()) if tasks or current.kind == "single" else None
        output.show_status(current, as_json, listed)


def result(
    job_id: Annotated[str, typer.Argument(help="The job's id.")],
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait if still running.")] = True,
    per_input: Annotated[
        bool, typer.Option("--per-input", help="Every input's result or error, as JSON lines.")
    ] = False,
    output_file: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write --per-input lines to FILE.")
    ] = None,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow",
            "-f",
            help="With --per-input: print each input's line as soon as it is final, in "
            "the order they finish, until the last.",
        ),
    ] = False,
    as_json: JsonOpt = False,
    coordinator: CoordinatorOpt = None,
    token: TokenOpt = None,
    tls_ca: TlsCaOpt = None,
) -> None:
    """Print a job's result or a group's aggregate (waits by default); exit 1 if it failed."""
    if follow and not per_input:
        raise typer.BadParameter("--follow needs --per-input", param_hint="--follow")
    with connect(coordinator, token, tls_ca) as client:
        job = client.job(job_id)
        if follow:
            failed = groups.write_per_input(job, output_file, follow=True)
            final = job.wait()  # a group's aggregate may still be running
            raise typer.Exit(EXIT_JOB_FAILED if failed or final.state != "SUCCEEDED" else 0)
        current = job.status()
        if wait and not current.done:
            current = groups.wait_with_progress(job) if current.kind == "group" else job.wait()
        if not current.done:
            output.err.print(f"job {job_id} is still {current.state.lower()}")
            raise typer.Exit(EXIT_JOB_FAILED)
        if per_input:
            failed = groups.write_per_input(job, output_file)
            if output_file is not None:
                output.err.print(f"wrote {current.tasks.total} lines to {output_file}")
            raise typer.Exit(EXIT_JOB_FAILED if failed or current.state != "SUCCEEDED" else 0)
        _finish(current, as_json, client)


def logs(
    job_id: Annotated[str, typer.Argument(help="The job's id.")],
    task: Annotated[
        int | None,
        typer.Option("--task", "-t", help="Index of the input (default 0: a single job's)."),
    ] = None,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow",
            "-f",
            help="Wait for the input to finish; for a group without --task, print each "
            "input's logs as it finishes, until the job is final.",
        ),
    ] = False,
    coordinator: CoordinatorOpt = None,
    token: TokenOpt = None,
    tls_ca: TlsCaOpt = None,
) -> None:
    """Print one input's captured stdout and stderr; exit 4 for an unknown job or input."""
    with connect(coordinator, token, tls_ca) as client:
        job = client.job(job_id)
        if follow and task is None and job.status().kind == "group":
            for finished in job.outputs(follow=True):
                output.out.print(
                    f"[bold]── input {finished.index}[/] ({finished.state})", highlight=False
                )
                sys.stdout.write(finished.text)
                sys.stdout.flush()
            return
        index = task or 0
        try:
            text = job.logs(index, follow=follow)
        except KeyboardInterrupt:
            output.err.print(f"stopped waiting for input {index}")
            raise typer.Exit(130) from None
    sys.stdout.write(text)
    sys.stdout.flush()
    if text.truncated:
        output.err.print("(the output was longer than what is kept: truncated)")
    if not text and text.state in ("QUEUED", "RUNNING"):
        output.err.print(
            f"input {index} is {text.state.lower()}: no logs until it finishes (--follow waits)"
        )


def cancel(
    job_id: Annotated[str, typer.Argument(help="The job's id.")],
    as_json: JsonOpt = False,
    coordinator: CoordinatorOpt = None,
    token: TokenOpt = None,
    tls_ca: TlsCaOpt = None,
) -> None:
    """Cancel a job: queued tasks never run, running ones are killed."""
    with connect(coordinator, token, tls_ca) as client:
        output.show_status(client.job(job_id).cancel(), as_json)


def jobs(
    limit: Annotated[int, typer.Option(help="How many jobs to list.")] = 20,
    state: Annotated[
        list[str] | None,
        typer.Option(
            "--state",
            help="Only jobs in this state (repeatable): SUBMITTING, QUEUED, RUNNING, "
            "AGGREGATING, SUCCEEDED, FAILED or CANCELLED; any case.",
        ),
    ] = None,
    name: Annotated[
        str, typer.Option(help="Only jobs whose name contains this (ignoring case).")
    ] = "",
    as_json: JsonOpt = False,
    coordinator: CoordinatorOpt = None,
    token: TokenOpt = None,
    tls_ca: TlsCaOpt = None,
) -> None:
    """List your most recent jobs, newest first, as a table."""
    with connect(coordinator, token, tls_ca) as client:
        rows = client.jobs(limit, state or (), name)
    if as_json:
        output.print_json({"jobs": [r.to_json() for r in rows]})
        return
    output.print_jobs(rows)


def contributors(
    as_json: JsonOpt = False,
    coordinator: CoordinatorOpt = None,
    token: TokenOpt = None,
    tls_ca: TlsCaOpt = None,
) -> None:
    """List the contributors the coordinator knows."""
    with connect(coordinator, token, tls_ca) as client:
        rows = client.contributors()
    if as_json:
        output.print_json({"contributors": rows})
    else:
        output.print_contributors(rows)
