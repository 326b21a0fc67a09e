"""Run one consumer function on one input in isolation and say exactly how it ended.

The package's one job is the contributor-side sandbox: `create_runner` probes the
host once at agent start and returns a `TaskRunner` — the layered `Sandbox`
(bubblewrap namespaces, a cgroup per task, rlimits, seccomp) or, only in explicit
insecure development mode, the `SubprocessRunner`.  Every run returns an `Outcome`
(result or classified failure, capped logs, measured usage) and leaves nothing
behind.  ``docs/security.md`` says what each layer guarantees and what it does not.
"""

from runsurge.sandbox.detect import IsolationReport, LayerStatus, create_runner, detect_isolation
from runsurge.sandbox.outcome import Outcome, OutcomeKind, ScriptError, Usage
from runsurge.sandbox.policy import SandboxPolicy
from runsurge.sandbox.runner import Entrypoint, RunRequest, TaskRunner, WarmSession
from runsurge.sandbox.sandbox import Sandbox, SandboxConfig
from runsurge.sandbox.subprocess_runner import SubprocessRunner

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
