"""The gate: verdict caching by hash and ruleset, rejection, concurrency, failing closed."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from runsurge.errors import ScanUnavailable, ScriptRejected
from runsurge.scan import (
    Finding,
    MemoryVerdictCache,
    ScanGate,
    ScanReport,
    SemgrepCoreEngine,
)

CLEAN = b"def process(input_data):\n    return {'n': len(input_data)}\n"
WARNS_ONLY = b"import os\ndef process(input_data):\n    return {'u': os.uname().sysname}\n"
HOSTILE = b"import os\nimport subprocess\ndef process(d):\n    return {'u': os.uname()}\n"


class CountingEngine(SemgrepCoreEngine):
    """The real engine, counting how often Semgrep actually runs."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.calls = 0
        self._lock = threading.Lock()

    def scan_many(self, sources: Sequence[bytes]) -> list[list[Finding]]:
        with self._lock:
            self.calls += 1
        return super().scan_many(sources)


@pytest.fixture
def counting() -> CountingEngine:
    return CountingEngine()


def test_second_check_of_same_script_is_served_from_cache(counting: CountingEngine) -> None:
    gate = ScanGate(counting, MemoryVerdictCache())
    first = gate.check(HOSTILE)
    second = gate.check(HOSTILE)
    assert counting.calls == 1
    assert second == first
    assert first.rejected


def test_report_records_hash_version_and_sorted_findings(counting: CountingEngine) -> None:
    report = ScanGate(counting, MemoryVerdictCache()).check(HOSTILE)
    assert len(report.script_sha256) == 64
    assert report.ruleset_version == counting.ruleset_version
    assert [f.line for f in report.findings] == sorted(f.line for f in report.findings)
    assert report.duration_ms > 0


def test_verdicts_are_keyed_by_ruleset_version(counting: CountingEngine) -> None:
    cache = MemoryVerdictCache()
    report = ScanGate(counting, cache).check(CLEAN)
    assert cache.get(report.script_sha256, counting.ruleset_version) == report
    assert cache.get(report.script_sha256, "older-rules") is None


def test_enforce_raises_with_error_findings_only(counting: CountingEngine) -> None:
    gate = ScanGate(counting, MemoryVerdictCache())
    with pytest.raises(ScriptRejected) as info:
        gate.enforce(HOSTILE)
    assert [f.rule_id for f in info.value.findings] == ["runsurge.process.subprocess"]
    assert "line 2, col 1: [runsurge.process.subprocess]" in str(info.value)
    assert "    import subprocess" in str(info.value)
    report = gate.check(HOSTILE)
    assert {f.severity for f in report.findings} == {"ERROR", "WARNING"}


def test_warnings_alone_do_not_reject(counting: CountingEngine) -> None:
    report = ScanGate(counting, MemoryVerdictCache()).enforce(WARNS_ONLY)
    assert not report.rejected
    assert [f.rule_id for f in report.warnings] == ["runsurge.environment.host-info"]


def test_concurrent_checks_of_one_script_run_semgrep_once(counting: CountingEngine) -> None:
    gate = ScanGate(counting, MemoryVerdictCache())
    barrier = threading.Barrier(6)
    reports: list[ScanReport] = []

    def submit() -> None:
        barrier.wait()
        reports.append(gate.check(HOSTILE))

    threads = [threading.Thread(target=submit) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counting.calls == 1
    assert len(reports) == 6 and all(r == reports[0] for r in reports)


def test_broken_semgrep_makes_the_gate_fail_closed_and_cache_nothing(tmp_path: Path) -> None:
    cache = MemoryVerdictCache()
    gate = ScanGate(SemgrepCoreEngine(core_path=tmp_path / "missing"), cache)
    with pytest.raises(ScanUnavailable):
        gate.enforce(CLEAN)
    assert len(cache) == 0


def test_memory_cache_evicts_least_recently_used() -> None:
    cache = MemoryVerdictCache(max_entries=2)
    reports = [ScanReport.from_findings(str(i) * 64, [], "v", 1.0) for i in range(3)]
    cache.put(reports[0])
    cache.put(reports[1])
    assert cache.get(reports[0].script_sha256, "v") is not None  # 0 is now most recent
    cache.put(reports[2])
    assert cache.get(reports[1].script_sha256, "v") is None
    assert cache.get(reports[0].script_sha256, "v") == reports[0]
    assert len(cache) == 2


def test_report_round_trips_through_its_json_form(counting: CountingEngine) -> None:
    report = ScanGate(counting, MemoryVerdictCache()).check(HOSTILE)
    restored = ScanReport.from_dict(report.to_dict())
    assert restored.findings == report.findings
    assert restored.rejected and restored.script_sha256 == report.script_sha256


def test_finding_from_dict_rejects_unknown_severity() -> None:
    data = Finding("r", "ERROR", 1, 1, "m", "x").to_dict() | {"severity": "FATAL"}
    with pytest.raises(ValueError):
        Finding.from_dict(data)
