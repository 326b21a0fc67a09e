"""`runsurge scan SCRIPT [--json]`: run the coordinator's checks locally before submitting.

The same checks as submission: the structure of the script (`scan/script_check.py`:
UTF-8, parses, a workable `process`) and the Semgrep rules. Exit status: 0 the script
would be accepted (warnings allowed), 1 it would be rejected, 2 the scan could not run
(Semgrep missing or broken).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from runsurge.errors import ScanUnavailable
from runsurge.scan import Finding, MemoryVerdictCache, ScanGate, ScanReport, SemgrepCoreEngine
from runsurge.scan.script_check import structure_findings

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
    aggregate_script: Annotated[
        bool,
        typer.Option(
            "--aggregate-script",
            help="Also require `aggregate(results)`, as `submit -a script` does.",
        ),
    ] = False,
) -> None:
    """Check a script with the same checks the coordinator applies at submission."""
    source = script.read_bytes()
    try:
        report = ScanGate(SemgrepCoreEngine(), MemoryVerdictCache(max_entries=1)).check(source)
    except ScanUnavailable as exc:
        Console(stderr=True).print(f"[bold red]scan unavailable:[/] {escape(str(exc))}")
        raise typer.Exit(EXIT_UNAVAILABLE) from None
    required = ("process", "aggregate") if aggregate_script else ("process",)
    report = with_structure(report, structure_findings(source, script.name, required))
    if json_output:
        typer.echo(json.dumps(report.to_dict(), indent=2, sort_keys=True))
    else:
        _print_report(Console(), script, report)
    raise typer.Exit(EXIT_REJECTED if report.rejected else EXIT_CLEAN)


def with_structure(report: ScanReport, structure: list[Finding]) -> ScanReport:
    """The Semgrep report plus the submission's structure findings, in one verdict.

    The gate reports encoding and syntax problems itself, under the same rule ids;
    those are not repeated.
    """
    seen = {f.rule_id for f in report.findings}
    extra = [f for f in structure if f.rule_id not in seen]
    if not extra:
        return report
    return ScanReport.from_findings(
        report.script_sha256,
        [*report.findings, *extra],
        report.ruleset_version,
        report.duration_ms,
    )


def _print_report(console: Console, script: Path, report: ScanReport) -> None:
    for finding in report.findings:
        colour = "red" if finding.is_error else "yellow"
        console.print(
            f"[bold {colour}]{finding.severity}[/] {escape(str(script))}:"
            f"{finding.line}:{finding.column} [dim]{finding.rule_id}[/]"
        )
        console.print(f"    {escape(finding.message)}")
        if finding.source_line:
            line = escape(finding.source_line.rstrip())
            console.print(f"    [cyan]{finding.line:>4} |[/] {line}")
    errors, warnings = len(report.errors), len(report.warnings)
    if report.rejected:
        console.print(
            f"[bold red]rejected[/]: {errors} error(s), {warnings} warning(s); "
            "the coordinator would refuse this script."
        )
    else:
        console.print(f"[bold green]accepted[/]: no errors, {warnings} warning(s).")
