"""`runsurge scan` exit codes and output, through a throwaway Typer app."""

from __future__ import annotations

import json
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
    script = _write(tmp_path, "import socket\n")
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
