"""A `ProbeRunner` over the real sandbox, measuring the cgroup's peak of each probe.

Prefix probes of one script run in one warm session (the script imported once, each
prefix in a fresh fork): a cold sandbox start costs more than a small probe itself, and
probes must stay a small share of the task.  A warm input peaks about 1 MiB above a cold
run of the same input (the session's zygote), so the baseline subtracted from prefix
peaks is measured warm too.  A whole-task probe runs cold, exactly as the task would.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from runsurge.estimate.probes import ProbeResult
from runsurge.sandbox.outcome import Outcome, OutcomeKind
from runsurge.sandbox.policy import SandboxPolicy
from runsurge.sandbox.runner import Entrypoint, RunRequest, TaskRunner, WarmSession

EMPTY_SCRIPT = "def process(input_data):\n    return {}\n"
BASELINE_RUNS = 3


class SandboxProbeRunner:
    """Runs probes in the sandbox under a probe policy; the harness baseline measured once."""

    def __init__(
        self, runner: TaskRunner, policy: SandboxPolicy, baseline_bytes: int | None = None
    ) -> None:
        """`baseline_bytes`: the harness baseline measured earlier on this host, if any."""
        self._runner = runner
        self._policy = policy
        self._workdir = tempfile.TemporaryDirectory(prefix="runsurge-probes-")
        self._folder = Path(self._workdir.name)
        self._baseline = baseline_bytes
        self._session: WarmSession | None = None
        self._session_script = ""

    @property
    def baseline_bytes(self) -> int:
        """Median warm peak of an empty script on an empty input (measured on first use)."""
        if self._baseline is None:
            peaks = [self.run(EMPTY_SCRIPT, b"").peak_bytes for _ in range(BASELINE_RUNS)]
            self._baseline = int(statistics.median(peaks))
            self._close_session()
        return self._baseline

    def run(self, script: str, input_bytes: bytes, whole_task: bool = False) -> ProbeResult:
        """Run `script` on `input_bytes`: cold if it is the whole task, else in a warm session."""
        input_path = self._folder / "probe.input"
        input_path.write_bytes(input_bytes)
        started = time.monotonic()
        if whole_task:
            script_path = self._folder / "task.py"
            script_path.write_text(script)
            request = RunRequest(script_path, input_path, self._policy, label="probe")
            outcome = self._runner.run(request)
        else:
            outcome = self._warm(script).run(input_path, self._policy, label="probe")
        seconds = time.monotonic() - started  # session start and teardown are probe cost too
        return _result(outcome, seconds)

    def close(self) -> None:
        """End the warm session and remove the probe files."""
        self._close_session()
        self._workdir.cleanup()

    def _warm(self, script: str) -> WarmSession:
        """The session for `script`, started (or restarted, if it died) on demand."""
        session = self._session
        if session is not None and session.alive and self._session_script == script:
            return session
        self._close_session()
        script_path = self._folder / "probe.py"
        script_path.write_text(script)
        self._session = self._runner.open_session(
            script_path, Entrypoint.PROCESS, self._policy, label="probe"
        )
        self._session_script = script
        return self._session

    def _close_session(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None


def _result(outcome: Outcome, seconds: float) -> ProbeResult:
    error = ""
    if outcome.kind is not OutcomeKind.OK:
        error = outcome.error.message if outcome.error else outcome.kind.value
    return ProbeResult(
        outcome.usage.peak_memory_bytes, seconds, outcome.ok, error, outcome.result_json
    )
