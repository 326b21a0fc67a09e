"""`runsurge admin`: manage consumers and enrolment tokens directly in the coordinator's database.

Settings resolve as for `runsurge coordinator` (flags, then RUNSURGE_COORDINATOR_*
variables, then defaults), so `admin` finds the same database the coordinator uses.
A running coordinator sees every change on its next RPC; no restart is needed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from runsurge.cli import output
from runsurge.cli.settings_options import setting_option
from runsurge.config import CoordinatorSettings, load_settings
from runsurge.errors import InvalidRequest

app = typer.Typer(
    name="admin",
    help="Manage consumers, contributor enrolment tokens and credit, read earnings, release "
    "quarantined contributors (on the coordinator's database), and make development TLS "
    "certificates.",
    no_args_is_help=True,
)
R = TypeVar("R")

DbOption = Annotated[str | None, setting_option(CoordinatorSettings, "db_url", "--db-url", "--db")]
DataDirOption = Annotated[Path | None, setting_option(CoordinatorSettings, "data_dir")]
ExpiresOption = Annotated[
    str | None,
    typer.Option("--expires-in", help="Lifetime, e.g. 90s, 30m, 12h, 7d (default: never)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def with_db(db_url: str | None, data_dir: Path | None, fn: Callable[..., R], *args: Any) -> R:
    from runsurge.store.database import Database, sqlite_url

    settings = load_settings(CoordinatorSettings, {"db_url": db_url, "data_dir": data_dir})
    path = Path(settings.data_dir)
    if not settings.db_url:
        path.mkdir(parents=True, exist_ok=True)
    db = Database(settings.db_url or sqlite_url(path), threads=1)
    try:
        db.migrate()
        return db.call(fn, *args)
    finally:
        db.close()


def _lifetime(expires_in: str | None) -> dt.timedelta | None:
    from runsurge.coordinator.accounts import parse_duration

    return None if expires_in is None else parse_duration(expires_in)


@app.command("add-consumer")
def add_consumer(
    name: Annotated[str, typer.Argument(help="Who the consumer is (shown in `admin list`).")],
    expires_in: ExpiresOption = None,
    json_output: JsonOption = False,
    db_url: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Create a consumer and print its token (this once: only its hash is kept)."""
    from runsurge.coordinator import accounts

    made = with_db(db_url, data_dir, accounts.add_consumer, name, _lifetime(expires_in))
    if json_output:
        output.print_json({"id": made.id, "token": made.token})
    else:
        print(f"consumer {made.id} ({name}); token (shown once):\n{made.token}")


@app.command("add-contributor-token")
def add_contributor_token(
    expires_in: ExpiresOption = None,
    json_output: JsonOption = False,
    db_url: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Create a contributor enrolment token and print it (this once)."""
    from runsurge.coordinator import accounts

    made = with_db(db_url, data_dir, accounts.add_enrolment_token, _lifetime(expires_in))
    if json_output:
        output.print_json({"id": made.id, "token": made.token})
    else:
        print(f"enrolment token {made.id} (shown once):\n{made.token}")


@app.command("revoke")
def revoke(
    account_id: Annotated[str, typer.Argument(metavar="ID", help="A consumer or token id.")],
    db_url: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Revoke a consumer or an enrolment token; effective on the coordinator's next RPC."""
    from runsurge.coordinator import accounts

    kind = with_db(db_url, data_dir, accounts.revoke, account_id)
    print(f"revoked {kind} {account_id}")


@app.command("release")
def release(
    contributor_id: Annotated[
        str, typer.Argument(metavar="CONTRIBUTOR", help="A quarantined contributor's id.")
    ],
    db_url: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """End a contributor's quarantine now; a running coordinator places work on it again."""
    from runsurge.coordinator import quarantine

    reason = with_db(db_url, data_dir, quarantine.release_now, contributor_id)
    print(f"released contributor {contributor_id} (was: {reason})")


@app.command("list")
def list_accounts(
    json_output: JsonOption = False,
    db_url: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """List consumers and enrolment tokens with their status (never their tokens)."""
    from runsurge.coordinator import accounts

    views = with_db(db_url, data_dir, accounts.list_accounts)
    rows = [
        {
            "id": v.id,
            "kind": v.kind,
            "name": v.name,
            "status": v.status,
            "created_at": v.created_at.isoformat(),
            "expires_at": v.expires_at.isoformat() if v.expires_at else None,
        }
        for v in views
    ]
    if json_output:
        output.print_json(rows)
        return
    for row in rows:
        expires = row["expires_at"] or "never"
        print(f"{row['id']}  {row['kind']:<10} {row['status']:<8} expires {expires}  {row['name']}")


@app.command("credit")
def credit(
    consumer_id: Annotated[str, typer.Argument(metavar="CONSUMER", help="The consumer's id.")],
    amount: Annotated[
        str, typer.Argument(metavar="AMOUNT", help="Currency units, up to 6 decimals (e.g. 25.5).")
    ],
    db_url: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Add credit to a consumer's balance (a balanced transaction from the platform)."""
    from runsurge.billing import ledger

    balance = with_db(db_url, data_dir, ledger.credit, consumer_id, _decimal(amount), "admin")
    print(f"credited {amount} to consumer {consumer_id}; balance {balance:f}")


@app.command("limit")
def limit(
    consumer_id: Annotated[str, typer.Argument(metavar="CONSUMER", help="The consumer's id.")],
    amount: Annotated[
        str,
        typer.Argument(
            metavar="AMOUNT", help="How far below zero its balance may go, or 'default'."
        ),
    ],
    db_url: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Set a consumer's spending limit (applies when billing is enforced)."""
    from runsurge.billing import ledger

    value = None if amount.strip() == "default" else _decimal(amount)
    with_db(db_url, data_dir, ledger.set_limit, consumer_id, value)
    print(f"spending limit of consumer {consumer_id}: {amount}")


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text.strip())
    except InvalidOperation:
        raise InvalidRequest(f"not an amount: {text!r} (write e.g. 25 or 0.5)") from None


@app.command("earnings")
def earnings(
    contributor_id: Annotated[
        str | None, typer.Argument(metavar="[CONTRIBUTOR]", help="One contributor's id.")
    ] = None,
    json_output: JsonOption = False,
    db_url: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """What contributors earned: balance, charged attempts and seconds of work."""
    from runsurge.billing import invoices

    rows = [
        {
            "contributor_id": e.contributor_id,
            "name": e.name,
            "balance": f"{e.balance:f}",
            "charges": e.charges,
            "seconds": f"{e.seconds:f}",
        }
        for e in with_db(db_url, data_dir, invoices.earnings, contributor_id)
    ]
    if json_output:
        output.print_json(rows)
        return
    for row in rows:
        print(
            f"{row['contributor_id']}  {row['balance']:>14}  {row['charges']:>6} attempts  "
            f"{row['seconds']:>14} s  {row['name']}"
        )


@app.command("gen-certs")
def gen_certs(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="Where the files go.")],
    host: Annotated[
        list[str] | None,
        typer.Option(
            "--host",
            help="A name or IP address clients dial the coordinator by (repeatable; "
            "default: localhost and 127.0.0.1).",
        ),
    ] = None,
    days: Annotated[int, typer.Option(help="Validity of every certificate, in days.")] = 365,
    force: Annotated[bool, typer.Option("--force", help="Replace existing files.")] = False,
) -> None:
    """Write a development CA, a coordinator certificate and a contributor client certificate."""
    from runsurge import devca

    paths = devca.generate(directory, host or list(devca.DEFAULT_HOSTS), days, force)
    names = ", ".join(host or devca.DEFAULT_HOSTS)
    print(f"wrote a development CA and certificates for {names} in {directory} (keys 0600)")
    print(
        "coordinator:  "
        f"--tls-cert {paths['server.pem']} --tls-key {paths['server-key.pem']} "
        f"--tls-client-ca {paths['ca.pem']} --contributor-listen HOST:PORT"
    )
    print(
        "contributor:  "
        f"--tls-ca {paths['ca.pem']} --tls-cert {paths['contributor.pem']} "
        f"--tls-key {paths['contributor-key.pem']} (and --coordinator HOST:CONTRIBUTOR_PORT)"
    )
    print(f"consumers:    RUNSURGE_TLS_CA={paths['ca.pem']} (or Client(tls_ca=...))")
    print(f"keep {paths['ca-key.pem']} private: it signs certificates every role trusts")
