"""Long-running roles: `runsurge coordinator` and `runsurge contributor`."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path
from typing import Annotated, Any

import typer

from runsurge.cli import output
from runsurge.cli.settings_options import setting_option
from runsurge.config import (
    ContributorSettings,
    CoordinatorSettings,
    env_var,
    format_size,
    load_settings,
)
from runsurge.errors import ConfigError

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(verbose: bool) -> None:
    """Plain structured lines on stderr."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format=LOG_FORMAT)
    logging.getLogger("grpc").setLevel(logging.WARNING)


def _coordinator_option(field: str, *param_decls: str) -> Any:
    return setting_option(CoordinatorSettings, field, *param_decls)


def _contributor_option(field: str, *param_decls: str) -> Any:
    return setting_option(ContributorSettings, field, *param_decls)


def coordinator(
    listen: Annotated[str | None, _coordinator_option("listen")] = None,
    data_dir: Annotated[Path | None, _coordinator_option("data_dir")] = None,
    db: Annotated[str | None, _coordinator_option("db_url", "--db")] = None,
    skip_scan: Annotated[bool | None, _coordinator_option("skip_scan", "--skip-scan")] = None,
    lease_seconds: Annotated[float | None, _coordinator_option("lease_seconds")] = None,
    heartbeat_seconds: Annotated[
        float | None, _coordinator_option("heartbeat_interval_seconds", "--heartbeat-seconds")
    ] = None,
    metrics: Annotated[str | None, _coordinator_option("metrics_listen", "--metrics")] = None,
    tls_cert: Annotated[Path | None, _coordinator_option("tls_cert")] = None,
    tls_key: Annotated[Path | None, _coordinator_option("tls_key")] = None,
    tls_client_ca: Annotated[Path | None, _coordinator_option("tls_client_ca")] = None,
    contributor_listen: Annotated[str | None, _coordinator_option("contributor_listen")] = None,
    allow_plaintext: Annotated[
        bool | None, _coordinator_option("allow_plaintext", "--allow-plaintext")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run a coordinator: accepts jobs, scans them, schedules them onto contributors.

    Flags win over RUNSURGE_COORDINATOR_* variables, which win over the defaults.
    """
    from runsurge.coordinator.server import serve

    setup_logging(verbose)
    settings = load_settings(
        CoordinatorSettings,
        {
            "listen": listen,
            "data_dir": data_dir,
            "db_url": db,
            "skip_scan": skip_scan,
            "lease_seconds": lease_seconds,
            "heartbeat_interval_seconds": heartbeat_seconds,
            "metrics_listen": metrics,
            "tls_cert": tls_cert,
            "tls_key": tls_key,
            "tls_client_ca": tls_client_ca,
            "contributor_listen": contributor_listen,
            "allow_plaintext": allow_plaintext,
        },
    )
    if settings.skip_scan:
        output.err.print("[bold red]WARNING: --skip-scan: scripts run WITHOUT the security scan[/]")
    asyncio.run(serve(settings))


def contributor_settings(token_file: Path | None, **flags: Any) -> ContributorSettings:
    """A contributor's settings from its flags (None: not given); the token is required.

    `--token-file` wins over `--token`; both win over RUNSURGE_CONTRIBUTOR_TOKEN.
    """
    if token_file is not None:
        flags["token"] = token_file.read_text().strip()
    settings = load_settings(ContributorSettings, flags)
    if not settings.token:
        raise ConfigError(
            "an enrolment token is required: --token, --token-file or "
            + env_var(ContributorSettings, "token")
        )
    return settings


def contributor(
    coordinator: Annotated[str | None, _contributor_option("coordinator")] = None,
    token: Annotated[str | None, _contributor_option("token")] = None,
    token_file: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            help="Read the enrolment token from a file (wins over --token).",
        ),
    ] = None,
    cores: Annotated[int | None, _contributor_option("cores")] = None,
    memory: Annotated[str | None, _contributor_option("memory_bytes", "--memory")] = None,
    name: Annotated[str | None, _contributor_option("name")] = None,
    work_dir: Annotated[Path | None, _contributor_option("work_dir")] = None,
    insecure_dev: Annotated[
        bool | None, _contributor_option("insecure_dev", "--insecure-dev")
    ] = None,
    tls_ca: Annotated[Path | None, _contributor_option("tls_ca")] = None,
    tls_cert: Annotated[Path | None, _contributor_option("tls_cert")] = None,
    tls_key: Annotated[Path | None, _contributor_option("tls_key")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run a contributor agent: offers this machine's cores and RAM to a coordinator.

    Flags win over RUNSURGE_CONTRIBUTOR_* variables, which win over the defaults.
    """
    from runsurge.contributor.main import run_agent
    from runsurge.contributor.resources import offered_cores, offered_memory

    setup_logging(verbose)
    settings = contributor_settings(
        token_file,
        coordinator=coordinator,
        token=token,
        cores=cores,
        memory_bytes=memory,
        name=name,
        work_dir=work_dir,
        insecure_dev=insecure_dev,
        tls_ca=tls_ca,
        tls_cert=tls_cert,
        tls_key=tls_key,
    )
    n_cores = offered_cores(settings.cores)
    n_memory = offered_memory(settings.memory_bytes)
    if settings.insecure_dev:
        output.err.print(
            "[bold red]WARNING: --insecure-dev: tasks may run WITHOUT the sandbox. "
            "Never use this with untrusted work.[/]"
        )
    output.err.print(
        f"contributor offering {n_cores} core(s) and {format_size(n_memory)} "
        f"to {settings.coordinator}"
    )
    code = asyncio.run(run_agent(settings, n_cores, n_memory, _install_signals))
    raise typer.Exit(code)


def _install_signals(stop: object) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)  # type: ignore[arg-type]
