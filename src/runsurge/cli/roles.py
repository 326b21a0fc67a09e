"""Long-running roles: `runsurge coordinator` and `runsurge contributor`."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path
from typing import Annotated

import typer

from runsurge.cli import output
from runsurge.config import ContributorSettings, CoordinatorSettings, format_size, parse_size

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(verbose: bool) -> None:
    """Plain structured lines on stderr."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format=LOG_FORMAT)
    logging.getLogger("grpc").setLevel(logging.WARNING)


def coordinator(
    listen: Annotated[str, typer.Option(help="HOST:PORT to listen on.")] = "127.0.0.1:7070",
    data_dir: Annotated[
        Path | None, typer.Option(help="State directory (database, blobs, tokens).")
    ] = None,
    db: Annotated[
        str, typer.Option("--db", help="Database URL (default: SQLite in the data dir).")
    ] = "",
    skip_scan: Annotated[
        bool,
        typer.Option(
            "--skip-scan",
            help="DEVELOPMENT/TESTING ONLY: accept scripts without the Semgrep security scan.",
        ),
    ] = False,
    lease_seconds: Annotated[
        float, typer.Option(help="Attempt lease; silence this long requeues.")
    ] = 10.0,
    heartbeat_seconds: Annotated[
        float, typer.Option(help="Heartbeat interval asked of agents.")
    ] = 2.0,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run a coordinator: accepts jobs, scans them, schedules them onto contributors."""
    from runsurge.coordinator.server import serve

    setup_logging(verbose)
    values: dict[str, object] = {
        "listen": listen,
        "db_url": db,
        "skip_scan": skip_scan,
        "lease_seconds": lease_seconds,
        "heartbeat_interval_seconds": heartbeat_seconds,
    }
    if data_dir is not None:
        values["data_dir"] = data_dir
    settings = CoordinatorSettings(**values)  # type: ignore[arg-type]
    if skip_scan:
        output.err.print("[bold red]WARNING: --skip-scan: scripts run WITHOUT the security scan[/]")
    asyncio.run(serve(settings))


def contributor(
    coordinator: Annotated[
        str, typer.Option(help="HOST:PORT of the coordinator.")
    ] = "127.0.0.1:7070",
    token: Annotated[
        str, typer.Option(help="Enrolment token (the coordinator's data-dir/contributor.token).")
    ] = "",
    token_file: Annotated[
        Path | None, typer.Option(help="Read the enrolment token from a file.")
    ] = None,
    cores: Annotated[
        int | None, typer.Option(help="Tasks to run at once (default: all cores).")
    ] = None,
    memory: Annotated[
        str | None, typer.Option(help="Memory to offer, e.g. 4GiB (default: half of RAM).")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Name shown to the coordinator.")] = None,
    work_dir: Annotated[Path | None, typer.Option(help="Where scripts and task files go.")] = None,
    insecure_dev: Annotated[
        bool,
        typer.Option(
            "--insecure-dev",
            help="DEVELOPMENT ONLY: run tasks without the full sandbox if the host lacks it.",
        ),
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run a contributor agent: offers this machine's cores and RAM to a coordinator."""
    from runsurge.contributor.main import run_agent
    from runsurge.contributor.resources import offered_cores, offered_memory

    setup_logging(verbose)
    if token_file is not None:
        token = token_file.read_text().strip()
    values: dict[str, object] = {
        "coordinator": coordinator,
        "token": token,
        "insecure_dev": insecure_dev,
    }
    if name:
        values["name"] = name
    if work_dir is not None:
        values["work_dir"] = work_dir
    settings = ContributorSettings(**values)  # type: ignore[arg-type]
    if not settings.token:
        raise typer.BadParameter("an enrolment token is required (--token or --token-file)")
    n_cores = offered_cores(cores or settings.cores)
    n_memory = offered_memory(parse_size(memory) if memory else settings.memory_bytes)
    if insecure_dev:
        output.err.print(
            "[bold red]WARNING: --insecure-dev: tasks may run WITHOUT the sandbox. "
            "Never use this with untrusted work.[/]"
        )
    output.err.print(
        f"contributor offering {n_cores} core(s) and {format_size(n_memory)} to {coordinator}"
    )
    code = asyncio.run(run_agent(settings, n_cores, n_memory, _install_signals))
    raise typer.Exit(code)


def _install_signals(stop: object) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)  # type: ignore[arg-type]
