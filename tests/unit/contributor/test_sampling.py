"""The agent's readings: a task's CPU % from its monitor's samples, the machine's from psutil."""

from __future__ import annotations

from pathlib import Path

from runsurge.contributor.sampling import TaskSampler, read_node
from runsurge.sandbox.live import LiveUsage


def test_task_cpu_percent_is_cpu_time_over_wall_time_between_two_samples() -> None:
    live = LiveUsage()
    sampler = TaskSampler()
    live.record(at=10.0, memory_bytes=1000, cpu_seconds=2.0)
    assert sampler.read({7: live}) == []  # one sample: no rate yet
    live.record(at=12.0, memory_bytes=3000, cpu_seconds=3.5)
    [reading] = sampler.read({7: live})
    assert reading.attempt_id == 7 and reading.memory_bytes == 3000
    assert reading.cpu_percent == 75.0  # 1.5 CPU seconds in 2 s


def test_a_task_whose_monitor_took_no_new_sample_is_left_out_until_it_does() -> None:
    live = LiveUsage()
    sampler = TaskSampler()
    live.record(at=1.0, memory_bytes=1, cpu_seconds=0.0)
    sampler.read({1: live})
    live.record(at=2.0, memory_bytes=1, cpu_seconds=1.0)
    assert len(sampler.read({1: live})) == 1
    assert sampler.read({1: live}) == []  # nothing new since
    live.record(at=4.0, memory_bytes=1, cpu_seconds=1.5)
    [reading] = sampler.read({1: live})
    assert reading.cpu_percent == 25.0  # from the last reported sample, not a stale one


def test_node_reading_has_memory_load_and_the_work_dirs_free_disk(tmp_path: Path) -> None:
    reading = read_node(tmp_path)
    assert reading.memory_free_bytes > 0 and reading.memory_used_bytes > 0
    assert reading.disk_free_bytes > 0 and reading.load_1m >= 0.0
    assert 0.0 <= reading.cpu_percent <= 100.0
