"""A `ProbeRunner` over the real sandbox, measuring the cgroup's peak of each probe."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from runsurge.estimate.probes import ProbeResult
from runsurge.sandbox.outcome import OutcomeKind
from runsurge.sandbox.policy import SandboxPolicy
from runsurge.sandbox.runner import RunRequest, TaskRunner

EMPTY_SCRIPT = "def process(input_data):\n    return {}\n"
BASELINE_RUNS = 3


class SandboxProbeRunner:
    """Runs probes as ordinary sandboxed tasks under a probe policy; baseline measured once."""

    def __init__(self, runner: TaskRunner, policy: SandboxPolicy) -> None:
        self._runner = runner
        self._policy = policy
        self._workdir = tempfile.TemporaryDirectory(prefix="runsurge-probes-")
        self._baseline: int | None = None

    @property
    def baseline_bytes(self) -> int:
        """Median peak of an empty script on an empty input (measured on first use)."""
        if self._baseline is None:
            peaks = [self.run(EMPTY_SCRIPT, b"").peak_bytes for _ in range(BASELINE_RUNS)]
            self._baseline = int(statistics.median(peaks))
        return self._baseline

    def run(self, script: str, input_bytes: bytes) -> ProbeResult:
        """Run `script` on `input_bytes` in a fresh sandbox."""
        folder = Path(self._workdir.name)
        script_path, input_path = folder / "probe.py", folder / "probe.input"
        script_path.write_text(script)
        input_path.write_bytes(input_bytes)
        started = time.monotonic()
        outcome = self._runner.run(RunRequest(script_path, input_path, self._policy, label="probe"))
        seconds = time.monotonic() - started  # sandbox start and teardown are probe cost too
        usage = outcome.usage
        error = ""
        if outcome.kind is not OutcomeKind.OK:
            error = outcome.error.message if outcome.error else outcome.kind.value
        return ProbeResult(usage.peak_memory_bytes, seconds, outcome.ok, error)

    def close(self) -> None:
        """Remove the probe files."""
        self._workdir.cleanup()
