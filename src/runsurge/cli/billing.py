"""Consumer billing commands: `runsurge balance` and `runsurge invoice JOB`."""

from __future__ import annotations

from typing import Annotated

import typer

from runsurge.cli import output
from runsurge.cli.jobs import CoordinatorOpt, JsonOpt, TlsCaOpt, TokenOpt, connect


def balance(
    as_json: JsonOpt = False,
    coordinator: CoordinatorOpt = None,
    token: TokenOpt = None,
    tls_ca: TlsCaOpt = None,
) -> None:
    """Show your balance, spending limit and what unfinished jobs hold."""
    with connect(coordinator, token, tls_ca) as client:
        view = client.balance()
    if as_json:
        output.print_json({"balance": view.to_json()})
        return
    print(f"balance    {view.balance:f}")
    print(f"held       {view.held:f}")
    if view.limit is None or view.available is None:
        print("limit      none (billing is not enforced)")
    else:
        print(f"limit      {view.limit:f}")
        print(f"available  {view.available:f}")


def invoice(
    job_id: Annotated[str, typer.Argument(help="The job's id.")],
    as_json: JsonOpt = False,
    coordinator: CoordinatorOpt = None,
    token: TokenOpt = None,
    tls_ca: TlsCaOpt = None,
) -> None:
    """Show what a job was charged: per attempt, contributor, factor, RAM, seconds, cost."""
    with connect(coordinator, token, tls_ca) as client:
        bill = client.job(job_id).invoice()
    if as_json:
        output.print_json({"invoice": bill.to_json()})
        return
    print(
        f"{'task':>5} {'contributor':<18} {'factor':>9} {'avg_ram_mb':>12} {'seconds':>11} "
        f"{'cost':>12}  outcome"
    )
    for line in bill.lines:
        print(
            f"{line.task_index:>5} {line.contributor_id:<18} {line.machine_factor:>9f} "
            f"{line.avg_ram_mb:>12.3f} {line.seconds:>11f} {line.cost:>12f}  {line.outcome}"
        )
    print(f"total {bill.total:f} (platform fee {bill.total_fee:f}; quoted {bill.quote:f})")
