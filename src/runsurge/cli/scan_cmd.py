"""`runsurge scan SCRIPT [--json]`: run the coordinator's rules locally before submitting.

Exit status: 0 the script would be accepted (warnings allowed), 1 it would be
rejected, 2 the scan could not run (Semgrep missing or broken).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from runsurge.errors import ScanUnavailable
from runsurge.scan import MemoryVerdictCache, ScanGate, ScanReport, SemgrepCoreEngine

EXIT_CLEAN = 0
EXIT_REJECTED = 1
EXIT_UNAVAILABLE = 2


def register(app: typer.Typer) -> None:
    """Add the `scan` command to `app` (called from runsurge.cli.main)."""
    app.command("scan")(scan_command)


def scan_command(
    script: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, readable=True, help="Python script to check."),
    ],
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the scan report as JSON (see docs/scanning.md).")
    ] = False,
) -> None:
    """Check a script against the same rules the coordinator applies at submission."""
    source = script.read_bytes()
    try:
        report = ScanGate(SemgrepCoreEngine(), MemoryVerdictCache(max_entries=1)).check(source)
    except ScanUnavailable as exc:
        Console(stderr=True).print(f"[bold red]scan unavailable:[/] {escape(str(exc))}")
        raise typer.Exit(EXIT_UNAVAILABLE) from None
    if json_output:
        typer.echo(json.dumps(report.to_dict(), indent=2, sort_keys=True))
    else:
        _print_report(Console(), script, report)
    raise typer.Exit(EXIT_REJECTED if report.rejected else EXIT_CLEAN)


def _print_report(console: Console, script: Path, report: ScanReport) -> None:
    for finding in report.findings:
        colour = "red" if finding.is_error else "yellow"
        console.print(
            f"[bold {colour}]{finding.severity}[/] {escape(str(script))}:"
            f"{finding.line}:{finding.column} [dim]{finding.rule_id}[/]"
        )
        console.print(f"    {escape(finding.message)}")
        console.print(f"    [cyan]{finding.line:>4} |[/] {escape(finding.source_line.rstrip())}")
    errors, warnings = len(report.errors), len(report.warnings)
    if report.rejected:
        console.print(
            f"[bold red]rejected[/]: {errors} error(s), {warnings} warning(s); "
            "the coordinator would refuse this script."
        )
    else:
        console.print(f"[bold green]accepted[/]: no errors, {warnings} warning(s).")
