"""The latest usage sample of a running task, shared between its monitor and the agent.

`monitor.UsageMonitor` samples a task every 20 ms for billing; handed a `LiveUsage`,
it also records each sample there, and the contributor agent reads the latest one at
its own, coarser pace to report live CPU and memory. The task is sampled once.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LiveReading:
    """One sample of a running task: when (monotonic), memory in use, CPU seconds so far."""

    at: float
    memory_bytes: int
    cpu_seconds: float


class LiveUsage:
    """The latest sample of a running task, written by its monitor, read by the agent.

    The monitor runs on the task's supervising thread and the agent reads from its
    event loop: one attribute holding an immutable reading is replaced whole, which
    is atomic in Python, so a reader always sees one consistent sample.
    """

    def __init__(self) -> None:
        self._reading: LiveReading | None = None

    def record(self, at: float, memory_bytes: int, cpu_seconds: float) -> None:
        """Called by the monitor at each sample."""
        self._reading = LiveReading(at, memory_bytes, cpu_seconds)

    def latest(self) -> LiveReading | None:
        """The last sample taken, or None before the task started."""
        return self._reading
