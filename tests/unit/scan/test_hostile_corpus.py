"""The sandbox's hostile scripts: the scan rejects each one it can see.

tests/hostile/scripts/ belongs to the sandbox work; this module skips when it is
absent. A script passes this test only if the scan rejects it (with the expected
rule, where EXPECTED_RULES names one) or if it is listed in STATIC_BLIND_SPOTS with
the reason no static rule can catch it; docs/scanning.md repeats that list.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from runsurge.scan import Finding, SemgrepCoreEngine

from .conftest import scan_batch

HOSTILE = Path(__file__).resolve().parents[2] / "hostile" / "scripts"

if not HOSTILE.is_dir():
    pytest.skip("tests/hostile/scripts/ does not exist yet", allow_module_level=True)

# Script file name -> rule id that must be among its ERROR findings.
EXPECTED_RULES: dict[str, str] = {}

# Script file name -> why no static rule can catch it (the sandbox contains it).
STATIC_BLIND_SPOTS: dict[str, str] = {}

SCRIPTS = {p.name: p.read_bytes() for p in sorted(HOSTILE.glob("*.py"))}


@pytest.fixture(scope="module")
def hostile_findings(engine: SemgrepCoreEngine) -> dict[str, list[Finding]]:
    return scan_batch(engine, SCRIPTS)


def test_expectations_name_existing_scripts() -> None:
    assert set(EXPECTED_RULES) <= set(SCRIPTS)
    assert set(STATIC_BLIND_SPOTS) <= set(SCRIPTS)
    assert not set(EXPECTED_RULES) & set(STATIC_BLIND_SPOTS)


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_hostile_script_is_rejected_or_a_documented_blind_spot(
    hostile_findings: dict[str, list[Finding]], name: str
) -> None:
    errors = {f.rule_id for f in hostile_findings[name] if f.is_error}
    if name in STATIC_BLIND_SPOTS:
        assert not errors, f"{name} is now caught ({errors}); move it to EXPECTED_RULES"
        return
    assert errors, f"{name} passes the scan and is not a documented blind spot"
    if name in EXPECTED_RULES:
        assert EXPECTED_RULES[name] in errors
