"""docs/cli.md's exit codes hold for every command, not only those tried one by one.

Each command is run through the CLI's real entry point (`runsurge.cli.main.main`, in
this process for speed: test_cli.py runs the installed `runsurge` as a subprocess).
The commands are read from the app itself, so a command added later must be placed
in one of these sweeps or `test_every_command_is_covered_by_the_sweeps` fails.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import typer

from runsurge.cli.main import app, main
from tests.integration.cluster import Cluster

EXAMPLE = str(Path(__file__).resolve().parents[2] / "examples" / "wordcount.py")
UNKNOWN_JOB = "0123456789abcdef0123456789abcdef"
# Commands that ask the coordinator as a consumer, with the arguments they need.
CONSUMER = {
    "status": [UNKNOWN_JOB],
    "result": [UNKNOWN_JOB],
    "logs": [UNKNOWN_JOB],
    "watch": [UNKNOWN_JOB],
    "cancel": [UNKNOWN_JOB],
    "invoice": [UNKNOWN_JOB],
    "jobs": [],
    "contributors": [],
    "balance": [],
    "submit": [EXAMPLE, "-"],
}
TAKES_A_JOB = [name for name, args in CONSUMER.items() if args == [UNKNOWN_JOB]]
# Commands that need no coordinator, or talk to it as something else (an agent, an
# operator, a server), each with its own tests of their exit codes.
ELSEWHERE = {
    "scan",
    "up",
    "coordinator",
    "contributor",
    "estimate",
    "run",
    "earnings",
    "admin",
}


def _exit_code(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    """Run `runsurge ARGV` through the entry point: its exit code and its stderr."""
    monkeypatch.setattr(sys, "argv", ["runsurge", *argv])
    monkeypatch.setattr(sys, "stdin", open("/dev/null"))  # noqa: SIM115 - `submit -`
    with pytest.raises(SystemExit) as exited:
        main()
    code = exited.value.code
    return (code if isinstance(code, int) else 1), capsys.readouterr().err


def test_every_command_is_covered_by_the_sweeps() -> None:
    commands = getattr(typer.main.get_command(app), "commands", {})  # a (Typer) group
    assert set(commands) == set(CONSUMER) | ELSEWHERE


@pytest.mark.parametrize("command", sorted(CONSUMER))
def test_every_consumer_command_exits_3_when_the_coordinator_is_unreachable(
    command: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("RUNSURGE_COORDINATOR", "127.0.0.1:1")
    monkeypatch.setenv("RUNSURGE_TOKEN", "any-token")
    monkeypatch.setenv("RUNSURGE_HOME", str(tmp_path))
    code, err = _exit_code([command, *CONSUMER[command]], monkeypatch, capsys)
    assert code == 3, err
    assert "cannot reach the coordinator at 127.0.0.1:1" in err
    assert "Traceback" not in err


@pytest.mark.database_independent
def test_every_command_taking_a_job_exits_4_for_an_unknown_one(
    cluster: Cluster,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in cluster.env.items():
        if name.startswith("RUNSURGE_"):
            monkeypatch.setenv(name, value)
    for command in TAKES_A_JOB:
        code, err = _exit_code([command, UNKNOWN_JOB], monkeypatch, capsys)
        assert code == 4, (command, err)
        assert UNKNOWN_JOB in err and "Traceback" not in err, (command, err)


@pytest.mark.parametrize("command", sorted(set(CONSUMER) | ELSEWHERE))
def test_every_command_exits_2_on_an_unknown_option(
    command: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = _exit_code([command, "--no-such-option"], monkeypatch, capsys)
    assert code == 2, err
    assert "No such option" in err and "Traceback" not in err
