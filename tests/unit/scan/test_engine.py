"""Engine behaviour beyond individual rules: failing closed, pre-checks, both routes."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import pytest

from runsurge.errors import ScanUnavailable
from runsurge.scan import Finding, Ruleset, SemgrepCliEngine, SemgrepCoreEngine
from runsurge.scan.ruleset import ENCODING_RULE, INCOMPLETE_RULE, PARSE_ERROR_RULE

from .conftest import corpus_files
from .rule_cases import RULE_CASES


def _ids(findings: list[Finding]) -> set[str]:
    return {f.rule_id for f in findings}


def test_finding_carries_position_message_and_the_scripts_own_line(
    engine: SemgrepCoreEngine,
) -> None:
    source = b"import json\n\nimport subprocess as s  # tidy\n"
    [finding] = engine.scan(source)
    assert finding.rule_id == "runsurge.process.subprocess"
    assert (finding.line, finding.column, finding.severity) == (3, 1, "ERROR")
    assert finding.source_line == "import subprocess as s  # tidy"
    assert "start other programs" in finding.message
    assert "requires login" not in finding.describe()


def test_clean_script_has_no_findings(engine: SemgrepCoreEngine) -> None:
    assert engine.scan(b"def process(input_data):\n    return {'n': len(input_data)}\n") == []


def test_syntax_error_is_rejected_with_its_line(engine: SemgrepCoreEngine) -> None:
    [finding] = engine.scan(b"import json\n\ndef process(input_data:\n    return {}\n")
    assert finding.rule_id == PARSE_ERROR_RULE
    assert finding.line == 3
    assert finding.is_error


@pytest.mark.parametrize(
    "source",
    [
        b"# -*- coding: utf-7 -*-\nx = 1\n",
        b"# coding: latin-1\nx = '\xe9'\n",
        b"x = '\xff\xfe'\n",
        b"x = 1\rimport os\n",
    ],
    ids=["utf-7 cookie", "latin-1 cookie", "invalid utf-8", "lone carriage return"],
)
def test_source_semgrep_could_read_differently_is_rejected(
    engine: SemgrepCoreEngine, source: bytes
) -> None:
    assert _ids(engine.scan(source)) == {ENCODING_RULE}


def test_utf8_cookie_and_bom_are_accepted(engine: SemgrepCoreEngine) -> None:
    assert engine.scan(b"\xef\xbb\xbf# coding: utf-8\nx = '\xc3\xa9'\n") == []


def test_nosemgrep_comments_do_not_silence_rules(engine: SemgrepCoreEngine) -> None:
    source = (
        b"import subprocess  # nosemgrep\nimport socket  # nosemgrep: runsurge.network.socket\n"
    )
    assert _ids(engine.scan(source)) == {
        "runsurge.process.subprocess",
        "runsurge.network.socket",
    }


def test_scan_many_keeps_order_and_mixes_prechecked_scripts(engine: SemgrepCoreEngine) -> None:
    results = engine.scan_many([b"import socket\n", b"def f(:\n", b"x = 1\n", b"import pty\n"])
    assert [_ids(r) for r in results] == [
        {"runsurge.network.socket"},
        {PARSE_ERROR_RULE},
        set(),
        {"runsurge.process.pty"},
    ]


def test_missing_semgrep_core_fails_closed(tmp_path: Path) -> None:
    engine = SemgrepCoreEngine(core_path=tmp_path / "no-such-semgrep-core")
    with pytest.raises(ScanUnavailable, match="cannot start semgrep"):
        engine.scan(b"x = 1\n")


def _fake_core(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "semgrep-core"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("echo 'Fatal error: out of memory' >&2; exit 2", "exited with status 2"),
        ("echo 'not json at all'", "not JSON"),
        ("echo '{\"errors\": []}'", "no results list"),
        (
            'echo \'{"results": [], "errors": [{"message": "Invalid rule", '
            '"error_type": "Rule parse error"}], "paths": {"scanned": []}}\'',
            "Rule parse error",
        ),
    ],
    ids=["crash", "garbage", "no results", "rule error"],
)
def test_broken_semgrep_output_fails_closed(tmp_path: Path, body: str, message: str) -> None:
    engine = SemgrepCoreEngine(core_path=_fake_core(tmp_path, body))
    with pytest.raises(ScanUnavailable, match=message):
        engine.scan(b"x = 1\n")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_hung_semgrep_is_killed_with_its_children_and_fails_closed(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    # A grandchild that a kill of the direct child alone would leave running.
    body = f"sleep 60 &\necho $! > {pid_file}\nwait"
    engine = SemgrepCoreEngine(core_path=_fake_core(tmp_path, body), timeout_s=0.5)
    with pytest.raises(ScanUnavailable, match="did not finish"):
        engine.scan(b"x = 1\n")
    grandchild = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild)


def test_target_semgrep_did_not_scan_is_rejected_not_passed(tmp_path: Path) -> None:
    body = 'echo \'{"results": [], "errors": [], "paths": {"scanned": []}}\''
    engine = SemgrepCoreEngine(core_path=_fake_core(tmp_path, body))
    assert _ids(engine.scan(b"x = 1\n")) == {INCOMPLETE_RULE}


def test_partial_parse_reported_by_semgrep_is_rejected(tmp_path: Path) -> None:
    body = (
        'echo \'{"results": [], "paths": {"scanned": ["script_0.py"]}, '
        '"errors": [{"error_type": ["PartialParsing", []], "severity": "warn", '
        '"message": "x", "location": {"path": "script_0.py", "start": {"line": 2}}}]}\''
    )
    engine = SemgrepCoreEngine(core_path=_fake_core(tmp_path, body))
    [finding] = engine.scan(b"x = 1\ny = 2\n")
    assert (finding.rule_id, finding.line, finding.source_line) == (INCOMPLETE_RULE, 2, "y = 2")


def test_ruleset_version_changes_with_any_rule_file(tmp_path: Path) -> None:
    packaged = Ruleset.packaged()
    for path in packaged.files:
        (tmp_path / path.name).write_bytes(path.read_bytes())
    assert Ruleset.from_directory(tmp_path).version == packaged.version
    first = sorted(tmp_path.glob("*.yml"))[0]
    first.write_bytes(first.read_bytes() + b"\n# touched\n")
    assert Ruleset.from_directory(tmp_path).version != packaged.version


def test_rule_id_prefixes_from_the_cli_are_stripped() -> None:
    ruleset = Ruleset.packaged()
    assert ruleset.canonical_rule_id("tmp.x.runsurge.network.socket") == "runsurge.network.socket"
    with pytest.raises(ScanUnavailable):
        ruleset.canonical_rule_id("someone.else.rule")


@pytest.mark.slow
def test_cli_route_and_core_route_agree(engine: SemgrepCoreEngine) -> None:
    """The speed-up must not change a single finding (one batch, ~4 s)."""
    sources = list(corpus_files("benign").values()) + list(corpus_files("obfuscated").values())
    sources += [s.encode() for pos, neg in RULE_CASES.values() for s in pos + neg]
    cli = SemgrepCliEngine(jobs=2)
    core_results = engine.scan_many(sources)
    cli_results = cli.scan_many(sources)
    assert [sorted(map(repr, r)) for r in cli_results] == [
        sorted(map(repr, r)) for r in core_results
    ]
