"""`runsurge estimate SCRIPT INPUT [--json]`: the memory one task of SCRIPT on INPUT will need.

The estimator (runsurge.estimate) runs here, on the consumer's own machine: a small
input is run whole, a large line-oriented one on prefixes of growing size, each in
this machine's sandbox (it needs the `contributor` extra and bubblewrap), and the
peaks are fitted and widened by the calibrated margin; what probes cannot predict
falls back to static features of the script and input, or to `--memory`. Nothing is
sent to a coordinator. docs/estimator.md says how far to trust each method.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from runsurge.cli import output
from runsurge.config import format_size, parse_size
from runsurge.errors import InvalidInput

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
        bool, typer.Option("--json", help="peak_bytes, method, confidence and the evidence.")
    ] = False,
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
    policy = SandboxPolicy(
        memory_bytes=parse_size(PROBE_MEMORY), cpu_seconds=PROBE_SECONDS, wall_seconds=PROBE_SECONDS
    )
    probes = SandboxProbeRunner(Sandbox(), policy)
    try:
        estimate = Estimator(probes).estimate(source, data, declared_max=declared)
    finally:
        probes.close()
    report: dict[str, Any] = {
        "peak_bytes": estimate.peak_bytes,
        "method": estimate.method.value,
        "confidence": round(estimate.confidence, 3),
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


def _suggested(peak_bytes: int) -> str:
    """The estimate as a --memory value a person would type (MiB, rounded up)."""
    return f"{-(-peak_bytes // (1024 * 1024))}MiB"
