"""The Semgrep gate: decide, before a script is stored or run, whether it may run at all.

The scan is the first line of defence (the sandbox is the second). It rejects code
that plainly reaches for processes, the network, native code, dynamic code,
unsafe deserialisation, interpreter internals, files outside the work directory,
the environment or signals, and it explains each finding so the consumer can fix
the script. Verdicts are cached by script hash and ruleset version.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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


def __getattr__(name: str) -> Any:
    """Import an exported name's module the first time the name is used."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
