"""Live resource readings the agent reports: the machine's, and each running task's.

Node readings come from psutil and the work dir's file system. Task readings are
not sampled here: each running attempt's `LiveUsage` holds the latest sample its
sandbox monitor took for billing, and `TaskSampler` turns two successive samples into
a CPU percentage, so a task is never sampled twice.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

import psutil

from runsurge.readings import NodeReading, TaskReading
from runsurge.sandbox.live import LiveReading, LiveUsage


def start_node_readings() -> None:
    """Start psutil's CPU counters, so that the first node reading is a real average."""
    psutil.cpu_percent(interval=None)


def read_node(work_dir: Path) -> NodeReading:
    """Read the machine's CPU, memory, load and the work dir's free disk space."""
    memory = psutil.virtual_memory()
    try:
        disk_free = shutil.disk_usage(work_dir).free
    except OSError:  # the work dir vanished: report no space rather than fail the loop
        disk_free = 0
    return NodeReading(
        # Since the previous call (psutil keeps the counters): no sleep on the event loop.
        cpu_percent=psutil.cpu_percent(interval=None),
        memory_used_bytes=int(memory.total - memory.available),
        memory_free_bytes=int(memory.available),
        load_1m=os.getloadavg()[0],
        disk_free_bytes=int(disk_free),
    )


class TaskSampler:
    """CPU % and memory of running attempts, from their monitors' latest samples.

    CPU % needs two samples: an attempt first seen is reported from its next reading
    on; one whose monitor took no new sample since (it is fetching or waiting for a
    slot) is left out.
    """

    def __init__(self) -> None:
        self._previous: dict[int, LiveReading] = {}

    def read(self, running: Mapping[int, LiveUsage]) -> list[TaskReading]:
        """One reading per attempt whose monitor moved on since the previous call."""
        readings: list[TaskReading] = []
        current: dict[int, LiveReading] = {}
        for attempt_id, live in running.items():
            sample = live.latest()
            if sample is None:
                continue
            current[attempt_id] = sample
            before = self._previous.get(attempt_id)
            if before is None or sample.at <= before.at:
                if before is not None:
                    current[attempt_id] = before
                continue
            spent = max(0.0, sample.cpu_seconds - before.cpu_seconds)
            readings.append(
                TaskReading(
                    attempt_id, 100.0 * spent / (sample.at - before.at), sample.memory_bytes
                )
            )
        self._previous = current
        return readings
