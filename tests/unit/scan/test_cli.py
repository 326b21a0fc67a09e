"""`runsurge scan` exit codes and output: through a throwaway Typer app, and the real
command for the checks it shares with submission."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from runsurge.cli import scan_cmd
from runsurge.scan import Ruleset, ScanReport


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    scan_cmd.register(app)

    @app.command("noop")
    def noop() -> None:  # a second command keeps `scan` a named subcommand
        """Placeholder."""

    return app


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "script.py"
    path.write_text(text)
    return path


def test_clean_script_exits_zero(app: typer.Typer, tmp_path: Path) -> None:
    script = _write(tmp_path, "import os\ndef process(d):\n    return {'u': os.uname()[0]}\n")
    result = CliRunner().invoke(app, ["scan", str(script)])
    assert result.exit_code == 0, result.output
    assert "accepted" in result.output
    assert "runsurge.environment.host-info" in result.output


def test_rejected_script_exits_one_and_shows_the_line(app: typer.Typer, tmp_path: Path) -> None:
    script = _write(tmp_path, "import json\nimport socket\n")
    result = CliRunner().invoke(app, ["scan", str(script)])
    assert result.exit_code == 1
    assert "runsurge.network.socket" in result.output
    assert "import socket" in result.output
    assert "rejected" in result.output


def test_json_output_is_the_documented_report(app: typer.Typer, tmp_path: Path) -> None:
    script = _write(tmp_path, "import socket\ndef process(s):\n    return {}\n")
    result = CliRunner().invoke(app, ["scan", str(script), "--json"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert sorted(data) == [
        "duration_ms",
        "findings",
        "rejected",
        "ruleset_version",
        "script_sha256",
    ]
    assert data["ruleset_version"] == Ruleset.packaged().version
    report = ScanReport.from_dict(data)
    assert [(f.rule_id, f.line, f.column, f.source_line) for f in report.findings] == [
        ("runsurge.network.socket", 1, 1, "import socket")
    ]


def test_unavailable_semgrep_exits_two_without_traceback(
    app: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = _write(tmp_path, "x = 1\n")
    # A real, broken installation: the engine finds a semgrep-core that cannot run.
    broken = tmp_path / "semgrep-core"
    broken.write_text("not an executable")
    monkeypatch.setattr("runsurge.scan.engine.find_semgrep_core", lambda: broken)
    result = CliRunner().invoke(app, ["scan", str(script)])
    assert result.exit_code == 2
    assert "scan unavailable" in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_missing_script_is_a_usage_error(app: typer.Typer, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["scan", str(tmp_path / "absent.py")])
    assert result.exit_code == 2


def _scan(script: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    """`runsurge scan` as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "runsurge", "scan", str(script), *flags],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("source", "rule_id", "line", "words"),
    [
        ("import json\ndef handle(s):\n    return {}\n", "runsurge.structure.missing-function",
         1, "no function `process`"),
        ("import json\n\ndef process(a, b):\n    return {}\n", "runsurge.structure.signature",
         3, "exactly one positional argument"),
        ("async def process(s):\n    return {}\n", "runsurge.structure.async-function",
         1, "not async"),
        ("x = 1\ndef process(s:\n    return {}\n", "runsurge.syntax.parse-error",
         2, "not valid Python"),
        (b"def process(s):\n    return {'a': '\xff'}\n", "runsurge.syntax.source-encoding", 2,
         "UTF-8"),
    ],
)  # fmt: skip
def test_scan_rejects_what_submission_refuses(
    tmp_path: Path, source: str | bytes, rule_id: str, line: int, words: str
) -> None:
    script = tmp_path / "script.py"
    if isinstance(source, bytes):
        script.write_bytes(source)
    else:
        script.write_text(source)
    human = _scan(script)
    assert human.returncode == 1, human.stdout + human.stderr
    assert rule_id in human.stdout and words in " ".join(human.stdout.split())
    assert "rejected" in human.stdout and "accepted" not in human.stdout
    as_json = _scan(script, "--json")
    assert as_json.returncode == 1
    report = json.loads(as_json.stdout)
    assert report["rejected"] is True
    assert [(f["rule_id"], f["line"], f["severity"]) for f in report["findings"]] == [
        (rule_id, line, "ERROR")
    ]  # one finding each: the gate's own syntax findings are not repeated


def test_scan_lists_structure_and_rule_findings_together(tmp_path: Path) -> None:
    script = _write(tmp_path, "import socket\nprocess = 1\ndef aggregate():\n    return {}\n")
    assert _scan(script).returncode == 1
    report = json.loads(_scan(script, "--json", "--aggregate-script").stdout)
    assert [f["rule_id"] for f in report["findings"]] == [
        "runsurge.network.socket",
        "runsurge.structure.signature",  # aggregate() takes no argument; process is opaque
    ]


def test_a_workable_script_is_accepted_by_the_real_command(tmp_path: Path) -> None:
    script = _write(tmp_path, "def process(input_data: str) -> dict:\n    return {}\n")
    run = _scan(script)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "accepted" in run.stdout
