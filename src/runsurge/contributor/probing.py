"""Probing a task's peak memory before running it, when the coordinator asks.

The coordinator never runs consumer code, so the estimator's probes (runs of the
script on line-boundary prefixes of the input, fitted and extrapolated;
runsurge.estimate) run here, in this agent's sandbox, inside the reservation the
task already holds. The input is mapped, not read: probing a 1 GiB input costs the
agent no more of its own memory than running it does. The harness baseline that
probe peaks are measured above is measured once per agent and kept.

When the probes predict more than the reservation, the task is not run: it would
only be killed at its limit after spending its time. The agent reports
OUT_OF_MEMORY with the estimate, and the coordinator requeues the task with that
much (coordinator/reservations.py), on a contributor that has it. Probe time is not
billed: the report carries no memory use.
"""

from __future__ import annotations

import logging
import mmap
import threading
from pathlib import Path

from runsurge.estimate import Estimate, Estimator, Method
from runsurge.estimate.sandbox_probes import SandboxProbeRunner
from runsurge.proto.v1 import contributor_pb2
from runsurge.sandbox.outcome import Outcome, OutcomeKind, ScriptError, Usage
from runsurge.sandbox.policy import SandboxPolicy
from runsurge.sandbox.runner import TaskRunner

log = logging.getLogger(__name__)


class Prober:
    """Runs the estimator's probes in this agent's sandbox; one per agent."""

    def __init__(self, runner: TaskRunner) -> None:
        self._runner = runner
        self._baseline: int | None = None
        self._lock = threading.Lock()  # the first probes measure the baseline once

    def estimate(self, script: Path, input_path: Path, policy: SandboxPolicy) -> Estimate | None:
        """The probes' estimate of the task's peak, or None when they cannot predict it.

        None also when the input is too small to probe (the run is the probe), not
        line-oriented, or the script fails on a prefix: the task then runs as it would
        have, under its reservation.
        """
        source = script.read_text(encoding="utf-8", errors="replace")
        probes = SandboxProbeRunner(self._runner, policy, baseline_bytes=self._baseline)
        try:
            with self._lock:
                if self._baseline is None:
                    self._baseline = probes.baseline_bytes
            with (
                input_path.open("rb") as f,
                mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data,
            ):
                estimate = Estimator(probes).estimate(source, data)
        except (OSError, ValueError) as exc:  # an empty file cannot be mapped
            log.info("probes skipped: %s", exc)
            return None
        finally:
            probes.close()
        return estimate if estimate.method is Method.PROBES else None


def predicted_out_of_memory(estimate: Estimate, reservation_bytes: int) -> Outcome:
    """The outcome of a task not run because its probes predict more than it reserves."""
    seconds = estimate.details.get("probe_seconds", 0.0)
    return Outcome(
        kind=OutcomeKind.OUT_OF_MEMORY,
        error=ScriptError(
            type="PredictedOutOfMemory",
            message=(
                f"probes predict a peak of {estimate.peak_bytes} bytes, above this "
                f"attempt's reservation of {reservation_bytes} bytes; not run"
            ),
        ),
        usage=Usage(wall_seconds=seconds if isinstance(seconds, float) else 0.0),
    )


def estimate_message(estimate: Estimate) -> contributor_pb2.MemoryEstimate:
    """The wire form of a probe estimate."""
    sizes = estimate.details.get("probe_sizes")
    seconds = estimate.details.get("probe_seconds")
    return contributor_pb2.MemoryEstimate(
        peak_bytes=estimate.peak_bytes,
        confidence=estimate.confidence,
        probe_sizes=[int(s) for s in sizes] if isinstance(sizes, list) else [],
        probe_seconds=seconds if isinstance(seconds, float) else 0.0,
    )
