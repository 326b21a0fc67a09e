"""The Semgrep gate: decide, before a script is stored or run, whether it may run at all.

The scan is the first line of defence (the sandbox is the second). It rejects code
that plainly reaches for processes, the network, native code, dynamic code,
unsafe deserialisation, interpreter internals, files outside the work directory,
the environment or signals, and it explains each finding so the consumer can fix
the script. Verdicts are cached by script hash and ruleset version.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from runsurge._lazy import lazy_getattr

if TYPE_CHECKING:
    from runsurge.scan.engine import (
        ScanEngine,
        SemgrepCliEngine,
        SemgrepCoreEngine,
        find_semgrep_cli,
        find_semgrep_core,
    )
    from runsurge.scan.findings import Finding, ScanReport, Severity
    from runsurge.scan.gate import MemoryVerdictCache, ScanGate, VerdictCache
    from runsurge.scan.ruleset import Ruleset

# Loaded on first use, so that importing one light submodule (say the policy or the
# findings) does not pull in the whole package: the consumer SDK stays small.
_EXPORTS = {
    "Finding": "runsurge.scan.findings",
    "MemoryVerdictCache": "runsurge.scan.gate",
    "Ruleset": "runsurge.scan.ruleset",
    "ScanEngine": "runsurge.scan.engine",
    "ScanGate": "runsurge.scan.gate",
    "ScanReport": "runsurge.scan.findings",
    "SemgrepCliEngine": "runsurge.scan.engine",
    "SemgrepCoreEngine": "runsurge.scan.engine",
    "Severity": "runsurge.scan.findings",
    "VerdictCache": "runsurge.scan.gate",
    "find_semgrep_cli": "runsurge.scan.engine",
    "find_semgrep_core": "runsurge.scan.engine",
}
__all__ = [
    "Finding",
    "MemoryVerdictCache",
    "Ruleset",
    "ScanEngine",
    "ScanGate",
    "ScanReport",
    "SemgrepCliEngine",
    "SemgrepCoreEngine",
    "Severity",
    "VerdictCache",
    "find_semgrep_cli",
    "find_semgrep_core",
]


__getattr__ = lazy_getattr(__name__, _EXPORTS)
