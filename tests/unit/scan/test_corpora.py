"""The benign corpus passes untouched; each obfuscation case is caught by its rule."""

from __future__ import annotations

import re

import pytest

from runsurge.scan import Finding, SemgrepCoreEngine

from .conftest import corpus_files, scan_batch

BENIGN = corpus_files("benign")
OBFUSCATED = corpus_files("obfuscated")
_EXPECT = re.compile(rb"^# expect: (\S+)$", re.MULTILINE)


@pytest.fixture(scope="module")
def corpus_findings(engine: SemgrepCoreEngine) -> dict[str, list[Finding]]:
    sources = {f"benign/{n}": s for n, s in BENIGN.items()}
    sources |= {f"obfuscated/{n}": s for n, s in OBFUSCATED.items()}
    return scan_batch(engine, sources)


def test_corpora_are_large_enough() -> None:
    assert len(BENIGN) >= 15
    assert len(OBFUSCATED) >= 15


@pytest.mark.parametrize("name", sorted(BENIGN))
def test_benign_script_has_no_error_finding(
    corpus_findings: dict[str, list[Finding]], name: str
) -> None:
    errors = [f.describe() for f in corpus_findings[f"benign/{name}"] if f.is_error]
    assert errors == []


@pytest.mark.parametrize("name", sorted(OBFUSCATED))
def test_obfuscated_script_is_rejected_by_expected_rule(
    corpus_findings: dict[str, list[Finding]], name: str
) -> None:
    match = _EXPECT.search(OBFUSCATED[name])
    assert match is not None, f"{name} lacks a '# expect: <rule id>' line"
    expected = match.group(1).decode()
    errors = {f.rule_id for f in corpus_findings[f"obfuscated/{name}"] if f.is_error}
    assert expected in errors
