"""The best runner a run outside an agent can have: the sandbox, else a plain subprocess.

`runsurge run` and `Client(local=True)` run a consumer's script on the user's own
machine, where the full sandbox may be missing (no bubblewrap, no cgroups, not Linux).
An agent refuses to start then; these run the script with the user's permissions
instead, after saying what is missing, unless told to refuse.
"""

from __future__ import annotations

from runsurge.sandbox.detect import detect_isolation
from runsurge.sandbox.runner import TaskRunner


def best_runner() -> tuple[TaskRunner, str]:
    """The full Sandbox where this host has every layer it needs, with "" as what is
    missing; else a SubprocessRunner and the missing layers, each with why."""
    report = detect_isolation()
    if report.meets_minimum:
        from runsurge.sandbox.sandbox import Sandbox

        return Sandbox(), ""
    from runsurge.sandbox.subprocess_runner import SubprocessRunner

    missing = "; ".join(f"{s.name}: {s.detail}" for s in report.missing_minimum())
    return SubprocessRunner(), missing
