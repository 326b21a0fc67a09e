"""Memory and CPU sampling of one run, for billing and the memory estimator.

The source is the task's cgroup when there is one (it sees every process of the
task, including ones that daemonised) and the process tree through psutil
otherwise.  Memory is sampled about every 20 ms; the average is time-weighted (each
sample holds until the next), and the peak is the larger of the sampled maximum and
the kernel's own record (``memory.max_usage_in_bytes`` / ``memory.peak``), which
also catches spikes between samples.

A `LiveUsage` handed to the monitor receives every sample as it is taken, so the
agent can report a running task's CPU and memory without sampling it a second time.
"""

from __future__ import annotations

import os
import time
from typing import Protocol

import psutil

from runsurge.sandbox.cgroups import TaskCgroup
from runsurge.sandbox.live import LiveUsage
from runsurge.sandbox.outcome import Usage

SAMPLE_INTERVAL = 0.02


class UsageSource(Protocol):
    """Where memory and CPU figures come from."""

    @property
    def name(self) -> str:
        """Usage.memory_source: "cgroup" or "process-tree"."""
        ...

    def memory_bytes(self) -> int | None:
        """Memory in use now."""
        ...

    def peak_memory_bytes(self) -> int | None:
        """The kernel's record of the peak, if it keeps one."""
        ...

    def cpu_seconds(self) -> float | None:
        """CPU seconds used so far by the whole task."""
        ...


class CgroupUsage:
    """Usage read from the task's cgroup files."""

    def __init__(self, cgroup: TaskCgroup) -> None:
        self._cgroup = cgroup

    @property
    def name(self) -> str:
        """Always "cgroup"."""
        return "cgroup"

    def memory_bytes(self) -> int | None:
        """memory.usage_in_bytes / memory.current."""
        return self._cgroup.memory_bytes()

    def peak_memory_bytes(self) -> int | None:
        """memory.max_usage_in_bytes / memory.peak."""
        return self._cgroup.peak_memory_bytes()

    def cpu_seconds(self) -> float | None:
        """cpuacct.usage / cpu.stat usage_usec."""
        return self._cgroup.cpu_seconds()


class ProcessTreeUsage:
    """Usage summed over a process and its descendants (no cgroup available).

    RSS double-counts pages shared between processes; that overestimates, which is
    the safe direction for an estimator.  Every PID ever seen is remembered so the
    runner can kill descendants that left the process group.
    """

    def __init__(self, root_pid: int) -> None:
        self._root_pid = root_pid
        self._processes: dict[int, psutil.Process] = {}
        self._cpu_of_gone: dict[int, float] = {}

    def seen(self) -> list[psutil.Process]:
        """Every process of the tree seen so far (psutil guards against PID reuse)."""
        return list(self._processes.values())

    @property
    def name(self) -> str:
        """Always "process-tree"."""
        return "process-tree"

    def _tree(self) -> list[psutil.Process]:
        tree: list[psutil.Process] = []
        for pid in descendants_and_self(self._root_pid):
            proc = self._processes.get(pid)
            if proc is None:
                try:
                    proc = self._processes[pid] = psutil.Process(pid)
                except psutil.Error:
                    continue
            tree.append(proc)
        return tree

    def memory_bytes(self) -> int | None:
        """Sum of RSS over the live tree."""
        total = 0
        for proc in self._tree():
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                continue
        return total

    def peak_memory_bytes(self) -> int | None:
        """No kernel record for a tree."""
        return None

    def cpu_seconds(self) -> float | None:
        """User+system time of live processes plus the last value seen for exited ones."""
        for proc in self._tree():
            try:
                times = proc.cpu_times()
            except psutil.Error:
                continue
            self._cpu_of_gone[proc.pid] = times.user + times.system
        return sum(self._cpu_of_gone.values())


def descendants_and_self(root: int) -> list[int]:
    """PIDs of `root` and its descendants, from /proc/PID/task/TID/children.

    psutil's children(recursive=True) reads /proc/*/stat for every process on the
    host (~10 ms); the children files cost a few reads per process of the tree.
    """
    found: list[int] = []
    pending = [root]
    while pending:
        pid = pending.pop()
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        found.append(pid)
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    pending.extend(int(child) for child in f.read().split())
            except OSError:
                continue
    return found


class UsageMonitor:
    """Accumulates samples into peak and time-weighted average."""

    def __init__(
        self,
        source: UsageSource,
        interval: float = SAMPLE_INTERVAL,
        live: LiveUsage | None = None,
    ) -> None:
        self.source = source
        self._live = live
        self._interval = interval
        self._started: float | None = None
        self._last_time = 0.0
        self._last_value = 0
        self._area = 0.0  # byte-seconds
        self._peak = 0
        self._samples = 0
        self._cpu: float | None = None

    def start(self, now: float | None = None) -> None:
        """Mark the beginning of the run and take the first sample."""
        self._started = time.monotonic() if now is None else now
        self._last_time = self._started
        self.sample(self._started)

    def due(self, now: float) -> bool:
        """True when the next sample is due."""
        return now - self._last_time >= self._interval

    def sample(self, now: float) -> None:
        """Read the source once; a missing reading repeats the previous one."""
        value = self.source.memory_bytes()
        if value is None:
            value = self._last_value
        self._area += self._last_value * max(0.0, now - self._last_time)
        self._last_time, self._last_value = now, value
        self._peak = max(self._peak, value)
        self._samples += 1
        cpu = self.source.cpu_seconds()
        if cpu is not None:
            self._cpu = cpu
        if self._live is not None:
            self._live.record(now, value, self._cpu or 0.0)

    @property
    def cpu_seconds(self) -> float | None:
        """CPU seconds at the last sample."""
        return self._cpu

    def finish(self, now: float, cpu_fallback: float | None = None) -> Usage:
        """Close the last interval and return the run's Usage."""
        started = self._started if self._started is not None else now
        self._area += self._last_value * max(0.0, now - self._last_time)
        self._last_time = now
        wall = max(0.0, now - started)
        kernel_peak = self.source.peak_memory_bytes() or 0
        final_cpu = self.source.cpu_seconds()
        if final_cpu is not None:
            self._cpu = final_cpu
        candidates = [c for c in (self._cpu, cpu_fallback) if c is not None]
        cpu = max(candidates) if candidates else 0.0
        return Usage(
            wall_seconds=wall,
            cpu_seconds=cpu,
            peak_memory_bytes=max(self._peak, kernel_peak),
            average_memory_bytes=int(self._area / wall) if wall > 0 else self._last_value,
            samples=self._samples,
            memory_source=self.source.name,
        )
