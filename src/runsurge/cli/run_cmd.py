"""`runsurge run SCRIPT INPUT`: run one task here, through the contributor's harness.

For quick iteration without a coordinator: the script gets the submission's structure
checks (and, with `--scan`, the Semgrep rules), then runs on the input through the
same harness a contributor uses, under the same kind of limits, and the result, the
captured output and the measured usage come back as a task's would. Sandboxed where
this host supports the full sandbox (bubblewrap, cgroups, seccomp: the contributor
extra and Linux); elsewhere it runs as a plain subprocess, after a warning, unless
`--require-sandbox` says to refuse. What differs from a submitted task is listed in
docs/cli.md.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from runsurge.cli import output
from runsurge.config import format_size, parse_size
from runsurge.errors import InvalidInput

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def register(app: typer.Typer) -> None:
    """Add the `run` command to `app` (called from runsurge.cli.main)."""
    app.command("run", rich_help_panel="Jobs")(run_command)


def run_command(
    script: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, readable=True, help="The Python script."),
    ],
    input_file: Annotated[
        str, typer.Argument(metavar="INPUT", help="The input file, or - for standard input.")
    ],
    scan: Annotated[
        bool, typer.Option("--scan", help="Also apply the coordinator's Semgrep rules.")
    ] = False,
    memory: Annotated[
        str, typer.Option(help="The task's memory limit (as a job's --memory).")
    ] = "512MiB",
    wall_time: Annotated[
        float, typer.Option("--wall-time", help="The task's wall-clock limit, in seconds.")
    ] = 900.0,
    require_sandbox: Annotated[
        bool,
        typer.Option(
            "--require-sandbox",
            help="Refuse to run (exit 2) where this host cannot sandbox, instead of "
            "running the script as a plain subprocess.",
        ),
    ] = False,
    json_output: Annotated[
        bool,
        typer.Option("--json", help="outcome, result, error, usage, logs and isolation as JSON."),
    ] = False,
) -> None:
    """Run SCRIPT's process() on INPUT here, through the contributor's harness."""
    source = script.read_bytes()
    _check(source, script.name, scan)
    data = _read_input(input_file)
    policy = _policy(memory, wall_time)
    runner, isolation = _runner(require_sandbox)
    outcome = _run(runner, source, data, policy)
    report = _report(outcome, isolation)
    if json_output:
        output.print_json(report)
    else:
        _print(report)
    raise typer.Exit(EXIT_OK if report["outcome"] == "OK" else EXIT_FAILED)


def _check(source: bytes, name: str, scan: bool) -> None:
    """The submission's checks: refuse (exit 1) as the coordinator would."""
    from runsurge.scan.script_check import structure_findings

    findings = structure_findings(source, name)
    if scan:
        from runsurge.cli.scan_cmd import EXIT_UNAVAILABLE
        from runsurge.errors import ScanUnavailable
        from runsurge.scan import MemoryVerdictCache, ScanGate, SemgrepCoreEngine

        try:
            report = ScanGate(SemgrepCoreEngine(), MemoryVerdictCache(max_entries=1)).check(source)
        except ScanUnavailable as exc:
            output.err.print(f"[bold red]scan unavailable:[/] {exc}")
            raise typer.Exit(EXIT_UNAVAILABLE) from None
        findings += [f for f in report.findings if f.is_error]
    if findings:
        for finding in findings:
            output.err.print(
                f"[bold red]{finding.severity}[/] {name}:{finding.line}:{finding.column} "
                f"[dim]{finding.rule_id}[/]\n    {finding.message}"
            )
        output.err.print("[bold red]refused[/]: the coordinator would not run this script")
        raise typer.Exit(EXIT_FAILED)


def _read_input(input_file: str) -> bytes:
    if input_file == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(input_file).read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read the input {input_file}: {exc.strerror}") from None


def _policy(memory: str, wall_time: float) -> Any:
    from runsurge.sandbox import SandboxPolicy

    if wall_time <= 0:
        raise InvalidInput(f"--wall-time must be positive, not {wall_time}")
    try:
        return SandboxPolicy(
            memory_bytes=parse_size(memory),
            wall_seconds=wall_time,
            cpu_seconds=wall_time,
        )
    except ValueError as exc:
        raise InvalidInput(f"unusable limit: {exc}") from None


def _runner(require_sandbox: bool) -> tuple[Any, str]:
    """The full sandbox where this host has it, else a subprocess (after a warning)."""
    from runsurge.sandbox.choose import best_runner

    runner, missing = best_runner()
    if not missing:
        return runner, runner.isolation_level
    if require_sandbox:
        output.err.print(f"[bold red]this host cannot sandbox[/] ({missing})")
        raise typer.Exit(EXIT_USAGE)
    output.err.print(
        f"[yellow]not sandboxed[/]: this host lacks {missing}; the script runs as a plain "
        "subprocess with your permissions (memory measured, not enforced by a cgroup)"
    )
    return runner, "none"


def _run(runner: Any, source: bytes, data: bytes, policy: Any) -> Any:
    from runsurge.sandbox import RunRequest

    with tempfile.TemporaryDirectory(prefix="runsurge-run-") as folder:
        script_path, input_path = Path(folder) / "script.py", Path(folder) / "input"
        script_path.write_bytes(source)
        input_path.write_bytes(data)
        return runner.run(RunRequest(script_path, input_path, policy, label="runsurge run"))


def _report(outcome: Any, isolation: str) -> dict[str, Any]:
    error = outcome.error
    usage = outcome.usage
    return {
        "outcome": outcome.kind.value,
        "result": json.loads(outcome.result_json) if outcome.result_json else None,
        "error": None
        if error is None
        else {"type": error.type, "message": error.message, "traceback": error.traceback},
        "usage": {
            "wall_seconds": round(usage.wall_seconds, 4),
            "cpu_seconds": round(usage.cpu_seconds, 4),
            "peak_memory_bytes": usage.peak_memory_bytes,
            "average_memory_bytes": usage.average_memory_bytes,
            "memory_source": usage.memory_source,
        },
        "logs": outcome.logs.decode("utf-8", errors="replace"),
        "logs_truncated": outcome.logs_truncated,
        "isolation": isolation,
    }


def _print(report: dict[str, Any]) -> None:
    """The result on stdout; the script's output, errors and usage on stderr."""
    if report["logs"]:
        output.err.print(report["logs"], end="", markup=False, highlight=False)
    usage = report["usage"]
    summary = (
        f"{report['outcome']} in {usage['wall_seconds']:.2f} s, "
        f"peak {format_size(usage['peak_memory_bytes'])} (isolation: {report['isolation']})"
    )
    if report["outcome"] == "OK":
        output.print_json(report["result"])
        output.err.print(f"[green]{summary}[/]")
        return
    error = report["error"] or {}
    if error.get("traceback"):  # it ends with the error's type and message
        output.err.print(error["traceback"].rstrip(), markup=False, highlight=False)
    else:
        output.err.print(f"[bold red]{error.get('type', '')}[/]: {error.get('message', '')}")
    output.err.print(f"[red]{summary}[/]")
