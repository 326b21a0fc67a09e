"""Shared fixtures: one real Semgrep engine per session, and batch scanning helpers.

Semgrep is started once per batch of scripts rather than once per script, so the
whole directory runs in seconds; every test still checks real Semgrep output.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from runsurge.scan import Finding, SemgrepCoreEngine

CORPUS = Path(__file__).resolve().parents[2] / "scan_corpus"


@pytest.fixture(scope="session")
def engine() -> SemgrepCoreEngine:
    """The engine the coordinator uses by default, with two jobs for batch runs."""
    return SemgrepCoreEngine(jobs=2)


def scan_batch(engine: SemgrepCoreEngine, sources: Mapping[str, bytes]) -> dict[str, list[Finding]]:
    """Scan named scripts in one Semgrep run and return findings by name."""
    names = list(sources)
    results = engine.scan_many([sources[n] for n in names])
    return dict(zip(names, results, strict=True))


def corpus_files(kind: str) -> dict[str, bytes]:
    """The scripts of tests/scan_corpus/<kind>/, by file name."""
    return {p.name: p.read_bytes() for p in sorted((CORPUS / kind).glob("*.py"))}
