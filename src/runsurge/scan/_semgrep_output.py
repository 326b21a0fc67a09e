"""Turn Semgrep's JSON output into findings, failing closed on anything unexpected.

Both routes (the `semgrep scan` CLI and `semgrep-core` directly) print the same
`results` objects; they differ in how errors are shaped and in semgrep-core's
progress dots before the JSON. Every oddity here raises ScanUnavailable rather than
returning a verdict, because a verdict from output we did not understand could
pass a script nobody scanned.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from runsurge.errors import ScanUnavailable
from runsurge.scan._precheck import line_at
from runsurge.scan.findings import Finding, Severity
from runsurge.scan.ruleset import INCOMPLETE_RULE, Ruleset

_SEVERITY: dict[str, Severity] = {
    "ERROR": "ERROR",
    "CRITICAL": "ERROR",
    "HIGH": "ERROR",
    "WARNING": "WARNING",
    "MEDIUM": "WARNING",
    "INFO": "WARNING",
    "LOW": "WARNING",
}


def decode_output(stdout: bytes) -> dict[str, Any]:
    """Parse the JSON document, skipping semgrep-core's progress lines ("." and counts)."""
    text = stdout.decode("utf-8", errors="replace")
    lines = text.split("\n")
    start = 0
    while start < len(lines) and (lines[start].strip() in ("", ".") or lines[start].isdigit()):
        start += 1
    body = "\n".join(lines[start:])
    try:
        document = json.loads(body)
    except json.JSONDecodeError as exc:
        raise ScanUnavailable(f"semgrep printed output that is not JSON: {body[:200]!r}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("results"), list):
        raise ScanUnavailable("semgrep output has no results list")
    return document


def findings_by_target(
    document: Mapping[str, Any],
    targets: Mapping[str, Sequence[str]],
    ruleset: Ruleset,
) -> dict[str, list[Finding]]:
    """Findings for each target path (keys of `targets`, values its source lines).

    A target with a per-file error (partial parse, rule timeout, memory) or that
    Semgrep did not list as scanned gets an INCOMPLETE_RULE finding: half a scan
    is no scan. An error not tied to a target raises ScanUnavailable.
    """
    found: dict[str, dict[tuple[str, int, int], Finding]] = {t: {} for t in targets}
    keys = {_path_key(t): t for t in targets}
    for result in document["results"]:
        target = _target_of(result.get("path"), keys)
        finding = _finding_from_result(result, targets[target], ruleset)
        found[target].setdefault((finding.rule_id, finding.line, finding.column), finding)
    for error in document.get("errors") or []:
        target, line, kind = _error_location(error, keys)
        finding = _incomplete(line, f"the scanner reported {kind}", targets[target])
        found[target].setdefault((finding.rule_id, finding.line, finding.column), finding)
    scanned = {_path_key(p) for p in (document.get("paths") or {}).get("scanned") or []}
    for key, target in keys.items():
        if key not in scanned:
            finding = _incomplete(1, "the scanner skipped the file", targets[target])
            found[target].setdefault((finding.rule_id, 1, 1), finding)
    return {t: list(f.values()) for t, f in found.items()}


def _path_key(path: object) -> str:
    return Path(str(path)).name


def _target_of(path: object, keys: Mapping[str, str]) -> str:
    target = keys.get(_path_key(path))
    if target is None:
        raise ScanUnavailable(f"semgrep reported a result for an unknown file {path!r}")
    return target


def _finding_from_result(
    result: Mapping[str, Any], lines: Sequence[str], ruleset: Ruleset
) -> Finding:
    try:
        extra = result["extra"]
        line = int(result["start"]["line"])
        column = int(result["start"]["col"])
        severity = _SEVERITY[str(extra["severity"]).upper()]
        message = " ".join(str(extra["message"]).split())
        rule_id = ruleset.canonical_rule_id(str(result["check_id"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ScanUnavailable(f"semgrep result has an unexpected shape: {exc!r}") from exc
    # `is_ignored` (a `# nosemgrep` comment) is deliberately not honoured: the
    # script's author must not be able to switch rules off.
    return Finding(
        rule_id=rule_id,
        severity=severity,
        line=line,
        column=column,
        message=message,
        source_line=line_at(list(lines), line),
    )


def _error_location(error: Mapping[str, Any], keys: Mapping[str, str]) -> tuple[str, int, str]:
    """(target, line, kind) of a per-file error; raises for errors with no file."""
    location = error.get("location") or {}
    path = location.get("path") or error.get("path")
    raw_kind = error.get("error_type") or error.get("type") or "an error"
    kind = str(raw_kind[0] if isinstance(raw_kind, list) and raw_kind else raw_kind)
    if path is None or _path_key(path) not in keys:
        message = str(error.get("message", ""))[:300]
        raise ScanUnavailable(f"semgrep failed ({kind}): {message}")
    start = location.get("start") or _first_span(error).get("start") or {}
    return keys[_path_key(path)], int(start.get("line", 1)), kind


def _first_span(error: Mapping[str, Any]) -> Mapping[str, Any]:
    spans = error.get("spans")
    if isinstance(spans, list) and spans and isinstance(spans[0], Mapping):
        return spans[0]
    return {}


def _incomplete(line: int, why: str, lines: Sequence[str]) -> Finding:
    return Finding(
        rule_id=INCOMPLETE_RULE,
        severity="ERROR",
        line=line,
        column=1,
        message=(
            f"The script could not be fully scanned ({why}); it is rejected rather than "
            "run half-checked. Simplify the code around this line."
        ),
        source_line=line_at(list(lines), line),
    )
