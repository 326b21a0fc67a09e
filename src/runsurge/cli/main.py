"""The `runsurge` command: every subcommand, and one place that turns errors into messages."""

from __future__ import annotations

import sys

import typer

from runsurge import __version__
from runsurge.cli import (
    admin,
    billing,
    earnings_cmd,
    estimate_cmd,
    jobs,
    output,
    roles,
    run_cmd,
    scan_cmd,
    up,
    watch,
)
from runsurge.errors import (
    ConfigError,
    CoordinatorUnreachable,
    InvalidRequest,
    JobFailed,
    NotFound,
    RunSurgeError,
    ScriptRejected,
)

app = typer.Typer(
    name="runsurge",
    help=(
        "RunSurge: run Python `process(input_data: str) -> dict` functions on contributed "
        "machines.\n\nQuick start: `runsurge up` in one terminal, then "
        "`runsurge submit script.py input.txt --wait` in another."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
)

app.command(rich_help_panel="Run")(up.up)
app.command(rich_help_panel="Run")(roles.coordinator)
app.command(rich_help_panel="Run")(roles.contributor)
app.command(rich_help_panel="Jobs")(jobs.submit)
app.command(rich_help_panel="Jobs")(jobs.status)
app.command(rich_help_panel="Jobs")(jobs.result)
app.command(rich_help_panel="Jobs")(jobs.logs)
app.command(rich_help_panel="Jobs")(watch.watch)
app.command(rich_help_panel="Jobs")(jobs.cancel)
app.command(rich_help_panel="Jobs")(jobs.jobs)
app.command(rich_help_panel="Jobs")(jobs.contributors)
app.command(rich_help_panel="Billing")(billing.balance)
app.command(rich_help_panel="Billing")(billing.invoice)
scan_cmd.register(app)
estimate_cmd.register(app)
earnings_cmd.register(app)
run_cmd.register(app)
app.add_typer(admin.app, rich_help_panel="Operate")

# Exit codes (docs/cli.md): 1 job failed or script rejected, 2 bad usage or input,
# 3 coordinator unreachable, 4 not found, 5 other RunSurge errors.
EXIT_CODES: list[tuple[type[RunSurgeError], int]] = [
    (ScriptRejected, 1),
    (JobFailed, 1),
    (InvalidRequest, 2),
    (ConfigError, 2),
    (CoordinatorUnreachable, 3),
    (NotFound, 4),
]


def _version(value: bool) -> None:
    if value:
        print(f"runsurge {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version."
    ),
) -> None:
    """RunSurge command line."""


# Packages that only an extra installs, and the extra that brings each: a consumer's
# `pip install runsurge` has none of them, and `runsurge coordinator` should say so.
EXTRA_OF_PACKAGE = {
    "sqlalchemy": "coordinator",
    "alembic": "coordinator",
    "psycopg": "coordinator",
    "grpc_reflection": "coordinator",
    "prometheus_client": "coordinator",
    "cryptography": "coordinator",
    "psutil": "contributor",
    "pyseccomp": "contributor",
}
EXIT_MISSING_EXTRA = 2  # a set-up mistake, like a ConfigError


def missing_extra(exc: ModuleNotFoundError) -> str | None:
    """The extra that would have installed the missing module, if it is one of ours."""
    return EXTRA_OF_PACKAGE.get((exc.name or "").split(".")[0])


def main() -> None:
    """Entry point: run the app; a RunSurge error becomes a message and an exit code."""
    try:
        app()
    except ModuleNotFoundError as exc:
        extra = missing_extra(exc)
        if extra is None:
            raise
        message = (
            f"this command needs the {extra!r} extra ({exc.name} is missing): "
            f"pip install 'runsurge[{extra}]'"
        )
        output.err.print(f"[bold red]error:[/] {output.escape(message)}")
        sys.exit(EXIT_MISSING_EXTRA)
    except RunSurgeError as exc:
        output.err.print(f"[bold red]error:[/] {output.escape(str(exc))}")
        code = next((c for cls, c in EXIT_CODES if isinstance(exc, cls)), 5)
        sys.exit(code)
    except KeyboardInterrupt:
        sys.exit(130)
