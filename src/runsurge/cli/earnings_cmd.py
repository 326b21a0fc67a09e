"""`runsurge earnings`: what this machine has earned as a contributor.

Run on the contributor's machine: it reads the agent's identity from its work dir
(`identity.json`, written when the agent first registered) and asks the coordinator,
with the same enrolment token and TLS settings as `runsurge contributor`
(RUNSURGE_CONTRIBUTOR_* variables work too). No session is opened, so a running agent
is not disturbed. Operators see every contributor with `runsurge admin earnings`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from runsurge.cli import output
from runsurge.cli.roles import contributor_settings
from runsurge.cli.settings_options import setting_option
from runsurge.config import ContributorSettings
from runsurge.errors import ConfigError


def _option(field: str, *param_decls: str) -> Any:
    return setting_option(ContributorSettings, field, *param_decls)


def register(app: typer.Typer) -> None:
    """Add the `earnings` command to `app` (called from runsurge.cli.main)."""
    app.command("earnings", rich_help_panel="Billing")(earnings_command)


def earnings_command(
    coordinator: Annotated[str | None, _option("coordinator")] = None,
    token: Annotated[str | None, _option("token")] = None,
    token_file: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="Read the enrolment token from a file."),
    ] = None,
    work_dir: Annotated[Path | None, _option("work_dir")] = None,
    tls_ca: Annotated[Path | None, _option("tls_ca")] = None,
    tls_cert: Annotated[Path | None, _option("tls_cert")] = None,
    tls_key: Annotated[Path | None, _option("tls_key")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show this contributor's earnings: balance, attempts paid for, seconds of work."""
    from runsurge.client._errors import translated
    from runsurge.contributor.identity import identity_path, load_identity
    from runsurge.proto.v1 import contributor_pb2, contributor_pb2_grpc
    from runsurge.tls import ClientTls, channel

    settings = contributor_settings(
        token_file,
        coordinator=coordinator,
        token=token,
        work_dir=work_dir,
        tls_ca=tls_ca,
        tls_cert=tls_cert,
        tls_key=tls_key,
    )
    identity = load_identity(Path(settings.work_dir))
    if identity is None:
        raise ConfigError(
            f"no agent identity in {identity_path(Path(settings.work_dir))}: run "
            "`runsurge contributor` with this --work-dir first, or give the agent's --work-dir"
        )
    tls = ClientTls(settings.tls_ca, settings.tls_cert, settings.tls_key)
    with (
        channel(settings.coordinator, tls, "contributor", []) as chan,
        translated(settings.coordinator, tls.enabled),
    ):
        reply = contributor_pb2_grpc.ContributorServiceStub(chan).GetEarnings(
            contributor_pb2.GetEarningsRequest(
                contributor_id=identity.contributor_id, contributor_secret=identity.secret
            ),
            metadata=(("authorization", f"Bearer {settings.token}"),),
            timeout=30,
        )
    found = {
        "contributor_id": reply.contributor_id,
        "name": reply.name,
        "balance": reply.balance,
        "charges": reply.charges,
        "seconds": reply.seconds,
    }
    if json_output:
        output.print_json({"earnings": found})
        return
    print(f"contributor  {reply.contributor_id} ({reply.name})")
    print(f"balance      {reply.balance}")
    print(f"paid for     {reply.charges} attempts, {reply.seconds} s of work")
