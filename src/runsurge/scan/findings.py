"""What the scan found: one `Finding` per rule match, one `ScanReport` per script.

Both are plain frozen dataclasses with a JSON-safe dict form, because they cross
three boundaries: the verdict cache (database rows), the gRPC error returned to a
consumer, and `runsurge scan --json`. The dict form is the stable contract that
docs/scanning.md documents; change it only together with that page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Severity = Literal["ERROR", "WARNING"]
SEVERITIES: tuple[Severity, ...] = ("ERROR", "WARNING")


@dataclass(frozen=True)
class Finding:
    """One rule match in a script, with everything a consumer needs to fix it."""

    rule_id: str
    severity: Severity
    line: int
    column: int
    message: str
    source_line: str

    @property
    def is_error(self) -> bool:
        """ERROR findings reject the script; WARNING findings are only reported."""
        return self.severity == "ERROR"

    def describe(self) -> str:
        """Two lines for humans: position, rule and message, then the offending source."""
        head = f"line {self.line}, col {self.column}: [{self.rule_id}] {self.message}"
        return f"{head}\n    {self.source_line.strip()}"

    def to_dict(self) -> dict[str, Any]:
        """The JSON form documented in docs/scanning.md."""
        return {
            "rule_id": self.rule_id,
            "severity": self.severity,
            "line": self.line,
            "column": self.column,
            "message": self.message,
            "source_line": self.source_line,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        """Rebuild a finding from `to_dict` output; raises ValueError on bad input."""
        severity = str(data["severity"])
        if severity not in SEVERITIES:
            raise ValueError(f"unknown finding severity {severity!r}")
        return cls(
            rule_id=str(data["rule_id"]),
            severity=severity,
            line=int(data["line"]),
            column=int(data["column"]),
            message=str(data["message"]),
            source_line=str(data["source_line"]),
        )


@dataclass(frozen=True)
class ScanReport:
    """The verdict on one script under one ruleset; what the cache stores by hash."""

    script_sha256: str
    findings: tuple[Finding, ...]
    rejected: bool
    ruleset_version: str
    duration_ms: float

    @property
    def errors(self) -> tuple[Finding, ...]:
        """The findings that caused the rejection (empty when the script passed)."""
        return tuple(f for f in self.findings if f.is_error)

    @property
    def warnings(self) -> tuple[Finding, ...]:
        """Findings reported to the consumer that do not block the script."""
        return tuple(f for f in self.findings if not f.is_error)

    @classmethod
    def from_findings(
        cls,
        script_sha256: str,
        findings: Sequence[Finding],
        ruleset_version: str,
        duration_ms: float,
    ) -> ScanReport:
        """Build a report whose verdict follows from its findings: any ERROR rejects."""
        ordered = tuple(sorted(findings, key=lambda f: (f.line, f.column, f.rule_id)))
        return cls(
            script_sha256=script_sha256,
            findings=ordered,
            rejected=any(f.is_error for f in ordered),
            ruleset_version=ruleset_version,
            duration_ms=duration_ms,
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form documented in docs/scanning.md."""
        return {
            "script_sha256": self.script_sha256,
            "rejected": self.rejected,
            "ruleset_version": self.ruleset_version,
            "duration_ms": round(self.duration_ms, 3),
            "findings": [f.to_dict() for f in self.findings],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScanReport:
        """Rebuild a report from `to_dict` output; raises ValueError on bad input."""
        raw_findings = data["findings"]
        if not isinstance(raw_findings, list):
            raise ValueError("ScanReport.findings must be a list")
        return cls(
            script_sha256=str(data["script_sha256"]),
            findings=tuple(Finding.from_dict(f) for f in raw_findings),
            rejected=bool(data["rejected"]),
            ruleset_version=str(data["ruleset_version"]),
            duration_ms=float(data["duration_ms"]),
        )
