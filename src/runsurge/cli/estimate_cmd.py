"""`runsurge estimate SCRIPT INPUT [--json]`: the memory one task of SCRIPT on INPUT will need.

The estimator (runsurge.estimate) runs here, on the consumer's own machine: a small
input is run whole, a large line-oriented one on prefixes of growing size, each in
this machine's sandbox (it needs the `contributor` extra and bubblewrap), and the
peaks are fitted and widened by the calibrated margin; what probes cannot predict
falls back to static features of the script and input, or to `--memory`. Nothing is
sent to a coordinator. docs/estimator.md says how far to trust each method.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import typer

from runsurge.billing.pricing import (
    BYTES_PER_MB,
    DEFAULT_PRICE_PER_MB_SECOND,
    Pricing,
    Usage,
    price,
)
from runsurge.cli import output
from runsurge.config import format_size, parse_size
from runsurge.errors import InvalidInput
from runsurge.estimate.model import Estimate

# Probes are small by design; these limits only stop a probe that runs away.
PROBE_MEMORY = "2GiB"
PROBE_SECONDS = 30.0


def register(app: typer.Typer) -> None:
    """Add the `estimate` command to `app` (called from runsurge.cli.main)."""
    app.command("estimate", rich_help_panel="Jobs")(estimate_command)


def estimate_command(
    script: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, readable=True, help="The Python script."),
    ],
    input_file: Annotated[
        Path,
        typer.Argument(
            metavar="INPUT", exists=True, dir_okay=False, readable=True, help="One input file."
        ),
    ],
    memory: Annotated[
        str | None,
        typer.Option(help="The --memory you would submit with: the estimate never exceeds it."),
    ] = None,
    json_output: Annotated[
        bool,
        typer.Option(
            "--json", help="peak_bytes, method, confidence, predicted cost and the evidence."
        ),
    ] = False,
    price_per_mb_second: Annotated[
        str,
        typer.Option(
            help="The coordinator's price per MB of average RAM per second, for the cost "
            "(default: the coordinator's default price).",
        ),
    ] = str(DEFAULT_PRICE_PER_MB_SECOND),
) -> None:
    """Estimate the peak memory of SCRIPT on INPUT by probing it in the local sandbox."""
    from runsurge.estimate import Estimator
    from runsurge.estimate.sandbox_probes import SandboxProbeRunner
    from runsurge.sandbox import Sandbox, SandboxPolicy

    source = script.read_text(encoding="utf-8", errors="replace")
    try:
        data = input_file.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {input_file}: {exc.strerror}") from None
    declared = parse_size(memory) if memory is not None else None
    pricing = _pricing(price_per_mb_second)
    policy = SandboxPolicy(
        memory_bytes=parse_size(PROBE_MEMORY), cpu_seconds=PROBE_SECONDS, wall_seconds=PROBE_SECONDS
    )
    probes = SandboxProbeRunner(Sandbox(), policy)
    try:
        estimate = Estimator(probes).estimate(source, data, declared_max=declared)
    finally:
        probes.close()
    cost = predicted_cost(estimate, pricing)
    report: dict[str, Any] = {
        "peak_bytes": estimate.peak_bytes,
        "method": estimate.method.value,
        "confidence": round(estimate.confidence, 3),
        "task_seconds": estimate.details.get("task_seconds"),
        "predicted_cost": str(cost) if cost is not None else None,
        "details": estimate.details,
    }
    if json_output:
        output.print_json(report)
        return
    output.out.print(
        f"[bold]{format_size(estimate.peak_bytes)}[/] peak memory "
        f"({estimate.method.value}, confidence {estimate.confidence:.0%})"
    )
    needs = estimate.details.get("needs_bytes")
    if isinstance(needs, int):
        output.err.print(
            f"[yellow]the evidence says {format_size(needs)}: above --memory, the task would "
            "be killed at the limit[/]"
        )
    output.out.print(f"submit with --memory {_suggested(estimate.peak_bytes)} to cap it there")
    if cost is not None:
        output.out.print(
            f"predicted cost about {cost}: {report['task_seconds']:.2f} s (timed by the probes) "
            f"at up to {format_size(estimate.peak_bytes)}, on a machine of factor 1.0"
        )
    else:
        output.out.print("no predicted cost: the probes could not time this script")


def predicted_cost(estimate: Estimate, pricing: Pricing) -> Decimal | None:
    """One task's cost, bounded in memory (its peak as the average RAM) and timed by probes.

    The time is the probes' prediction, not a bound: a script slower than linear takes
    longer than its prefixes suggest. None when no probe timed the script.
    """
    seconds = estimate.details.get("task_seconds")
    if not isinstance(seconds, float):
        return None
    usage = Usage(Decimal(estimate.peak_bytes) / BYTES_PER_MB, Decimal(repr(seconds)))
    return price(usage, Decimal(1), pricing).cost


def _pricing(text: str) -> Pricing:
    try:
        return Pricing(price_per_mb_second=Decimal(text))
    except (InvalidOperation, ValueError) as exc:
        raise InvalidInput(f"--price-per-mb-second {text!r} is not a price: {exc}") from None


def _suggested(peak_bytes: int) -> str:
    """The estimate as a --memory value a person would type (MiB, rounded up)."""
    return f"{-(-peak_bytes // (1024 * 1024))}MiB"
