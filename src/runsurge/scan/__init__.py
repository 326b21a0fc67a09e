"""The Semgrep gate: decide, before a script is stored or run, whether it may run at all.

The scan is the first line of defence (the sandbox is the second). It rejects code
that plainly reaches for processes, the network, native code, dynamic code,
unsafe deserialisation, interpreter internals, files outside the work directory,
the environment or signals, and it explains each finding so the consumer can fix
the script. Verdicts are cached by script hash and ruleset version.
"""

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
