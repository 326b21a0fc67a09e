"""Run one consumer function on one input in isolation and say exactly how it ended.

The package's one job is the contributor-side sandbox: `create_runner` probes the
host once at agent start and returns a `TaskRunner` — the layered `Sandbox`
(bubblewrap namespaces, a cgroup per task, rlimits, seccomp) or, only in explicit
insecure development mode, the `SubprocessRunner`.  Every run returns an `Outcome`
(result or classified failure, capped logs, measured usage) and leaves nothing
behind.  ``docs/security.md`` says what each layer guarantees and what it does not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from runsurge._lazy import lazy_getattr

if TYPE_CHECKING:
    from runsurge.sandbox.detect import (
        IsolationReport,
        LayerStatus,
        create_runner,
        detect_isolation,
    )
    from runsurge.sandbox.outcome import Outcome, OutcomeKind, ScriptError, Usage
    from runsurge.sandbox.policy import SandboxPolicy
    from runsurge.sandbox.runner import Entrypoint, RunRequest, TaskRunner, WarmSession
    from runsurge.sandbox.sandbox import Sandbox, SandboxConfig
    from runsurge.sandbox.subprocess_runner import SubprocessRunner

# Loaded on first use, so that importing one light submodule (say the policy or the
# findings) does not pull in the whole package: the consumer SDK stays small.
_EXPORTS = {
    "Entrypoint": "runsurge.sandbox.runner",
    "IsolationReport": "runsurge.sandbox.detect",
    "LayerStatus": "runsurge.sandbox.detect",
    "Outcome": "runsurge.sandbox.outcome",
    "OutcomeKind": "runsurge.sandbox.outcome",
    "RunRequest": "runsurge.sandbox.runner",
    "Sandbox": "runsurge.sandbox.sandbox",
    "SandboxConfig": "runsurge.sandbox.sandbox",
    "SandboxPolicy": "runsurge.sandbox.policy",
    "ScriptError": "runsurge.sandbox.outcome",
    "SubprocessRunner": "runsurge.sandbox.subprocess_runner",
    "TaskRunner": "runsurge.sandbox.runner",
    "Usage": "runsurge.sandbox.outcome",
    "WarmSession": "runsurge.sandbox.runner",
    "create_runner": "runsurge.sandbox.detect",
    "detect_isolation": "runsurge.sandbox.detect",
}
__all__ = [
    "Entrypoint",
    "IsolationReport",
    "LayerStatus",
    "Outcome",
    "OutcomeKind",
    "RunRequest",
    "Sandbox",
    "SandboxConfig",
    "SandboxPolicy",
    "ScriptError",
    "SubprocessRunner",
    "TaskRunner",
    "Usage",
    "WarmSession",
    "create_runner",
    "detect_isolation",
]


__getattr__ = lazy_getattr(__name__, _EXPORTS)
