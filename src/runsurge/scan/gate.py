"""The gate the coordinator calls at submission: hash, look up the verdict, else scan.

Verdicts are cached by (script sha256, ruleset version), so resubmitting a script
costs a lookup, and a rules change invalidates every old verdict at once. The
coordinator calls `check` from worker threads; a per-hash lock makes concurrent
submissions of the same script wait for one Semgrep run instead of starting several.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from runsurge.errors import ScriptRejected
from runsurge.scan.engine import ScanEngine
from runsurge.scan.findings import ScanReport


class VerdictCache(Protocol):
    """Where verdicts live between submissions (memory here, the database in store/)."""

    def get(self, script_sha256: str, ruleset_version: str) -> ScanReport | None:
        """The cached report for this script under this ruleset, if any."""
        ...

    def put(self, report: ScanReport) -> None:
        """Remember `report` under (report.script_sha256, report.ruleset_version)."""
        ...


class MemoryVerdictCache:
    """A bounded, thread-safe LRU of verdicts, for the CLI, tests and single processes."""

    def __init__(self, max_entries: int = 10_000) -> None:
        if max_entries <= 0:
            raise ValueError("max_entries must be positive")
        self._max_entries = max_entries
        self._entries: OrderedDict[tuple[str, str], ScanReport] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, script_sha256: str, ruleset_version: str) -> ScanReport | None:
        """The cached report, marked most recently used; None when absent."""
        key = (script_sha256, ruleset_version)
        with self._lock:
            report = self._entries.get(key)
            if report is not None:
                self._entries.move_to_end(key)
            return report

    def put(self, report: ScanReport) -> None:
        """Store `report`, evicting the least recently used entry beyond the bound."""
        key = (report.script_sha256, report.ruleset_version)
        with self._lock:
            self._entries[key] = report
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


class ScanGate:
    """Scan each distinct script once per ruleset and turn rejections into errors."""

    def __init__(self, engine: ScanEngine, cache: VerdictCache) -> None:
        self._engine = engine
        self._cache = cache
        self._guard = threading.Lock()
        self._inflight: dict[str, tuple[threading.Lock, int]] = {}

    @property
    def ruleset_version(self) -> str:
        """The version of the rules verdicts are currently produced under."""
        return self._engine.ruleset_version

    def check(self, source: bytes) -> ScanReport:
        """The verdict on `source`, from the cache or a fresh scan (then cached).

        Raises ScanUnavailable when Semgrep cannot produce a verdict; nothing is
        cached in that case, so the next submission tries again.
        """
        sha = hashlib.sha256(source).hexdigest()
        version = self._engine.ruleset_version
        cached = self._cache.get(sha, version)
        if cached is not None:
            return cached
        with self._scan_slot(sha):
            cached = self._cache.get(sha, version)
            if cached is not None:
                return cached
            started = time.perf_counter()
            findings = self._engine.scan(source)
            elapsed_ms = (time.perf_counter() - started) * 1000
            report = ScanReport.from_findings(sha, findings, version, elapsed_ms)
            self._cache.put(report)
            return report

    def enforce(self, source: bytes) -> ScanReport:
        """Like `check`, but raise ScriptRejected (ERROR findings only) on rejection."""
        report = self.check(source)
        if report.rejected:
            raise ScriptRejected(report.errors)
        return report

    @contextmanager
    def _scan_slot(self, sha: str) -> Iterator[None]:
        """Hold the per-hash lock; the entry is dropped when its last user leaves."""
        with self._guard:
            lock, users = self._inflight.get(sha, (threading.Lock(), 0))
            self._inflight[sha] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._inflight[sha]
                if users == 1:
                    del self._inflight[sha]
                else:
                    self._inflight[sha] = (lock, users - 1)
