"""Memory reservations end to end: OOM retries grow from the peak, a job's --memory caps them.

A reservation is also the attempt's cgroup limit, so each case here is a real kill by
the kernel in a real sandbox, and what the consumer reads (the error, each input's
memory) is what the coordinator recorded.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from runsurge.client import InputResult
from runsurge.errors import InvalidRequest
from tests.integration.cluster import Cluster
from tests.integration.executions import runs

MiB = 1024 * 1024
# Touches every page of as many MiB as its input says (b"x" * n writes them), then
# returns. The size comes from the input, so no static prior sees it coming: the
# first attempt reserves the default and is killed there.
NEEDS_INPUT_MIB = (
    "def process(input_data):\n"
    "    block = b'x' * (int(input_data) * 1024 * 1024)\n"
    "    return {'held': len(block)}\n"
)

# The reservation rules are unit-tested on both databases (test_retries, test_attempts).
pytestmark = pytest.mark.database_independent


def _one_input_from_96_mib(
    cluster_factory: Callable[..., Cluster], memory: str | None = None
) -> tuple[Cluster, str, InputResult]:
    """Run NEEDS_INPUT_MIB on "150", whose first attempt reserves 96 MiB."""
    cluster = cluster_factory(coordinator_env={"RUNSURGE_COORDINATOR_TASK_MEMORY_BYTES": "96MiB"})
    cluster.add_contributor(memory="1GiB")
    with cluster.client() as client:
        job = client.submit_group(NEEDS_INPUT_MIB, ["150"], memory=memory)
        status = job.wait(timeout=90)
        assert status.state == "SUCCEEDED", status
        (item,) = list(job.results())
    return cluster, job.id, item


def test_oom_kill_is_retried_with_the_peak_grown_and_the_consumer_sees_each_size(
    cluster_factory,  # type: ignore[no-untyped-def]
) -> None:
    cluster, job_id, item = _one_input_from_96_mib(cluster_factory)
    assert item.result == {"held": 150 * MiB}
    memory = item.memory
    assert memory is not None
    assert memory.out_of_memory_at_bytes == [96 * MiB]
    assert memory.attempts == 2
    # Twice the peak at the kill (about the 96 MiB limit), rounded up to 16 MiB steps.
    assert 192 * MiB <= memory.reservation_bytes <= 224 * MiB
    assert 150 * MiB <= memory.peak_bytes <= memory.reservation_bytes
    assert runs(cluster, job_id) == {0: 2}


def test_a_task_above_its_jobs_memory_limit_fails_once_naming_the_limit(
    cluster_factory,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    cluster: Cluster = cluster_factory()
    cluster.add_contributor(memory="1GiB")
    script = tmp_path / "big.py"
    script.write_text(NEEDS_INPUT_MIB)
    data = tmp_path / "in.txt"
    data.write_text("150")
    run = cluster.cli("submit", str(script), str(data), "--memory", "64MiB", "--wait", "--json")
    assert run.returncode == 1, run.stdout + run.stderr
    job = json.loads(run.stdout)["job"]
    assert job["memory_limit_bytes"] == 64 * MiB
    assert job["error"]["kind"] == "OUT_OF_MEMORY"
    message = job["error"]["message"]
    assert "out of memory at 64.0 MiB, the job's memory limit (--memory)" in message
    assert runs(cluster, job["id"]) == {0: 1}  # the limit is final: no retry above it


def test_a_jobs_memory_limit_caps_the_growth_of_its_retries(
    cluster_factory,  # type: ignore[no-untyped-def]
) -> None:
    # 96 MiB first; twice that would be 192 MiB, but the job allows 176 MiB: enough.
    _, _, item = _one_input_from_96_mib(cluster_factory, memory="176MiB")
    assert item.memory is not None
    assert item.memory.out_of_memory_at_bytes == [96 * MiB]
    assert item.memory.reservation_bytes == 176 * MiB


@pytest.mark.parametrize(
    ("memory", "message"),
    [
        ("1MiB", "memory limit 1.0 MiB is below the 32.0 MiB a task needs to start"),
        ("lots", "memory: not a size: 'lots'"),
        (0, "memory must be a positive size"),
    ],
)
def test_an_unusable_memory_limit_is_refused_before_anything_runs(
    cluster: Cluster, memory: object, message: str
) -> None:
    with cluster.client() as client:
        with pytest.raises(InvalidRequest, match=message):
            client.submit("def process(s):\n    return {}\n", "x", memory=memory)  # type: ignore[arg-type]
        assert client.jobs() == []


def test_a_buffer_visible_in_the_script_is_reserved_up_front_and_never_killed(
    cluster_factory,  # type: ignore[no-untyped-def]
) -> None:
    # The static prior sees the 150 MiB buffer: the first attempt reserves more than
    # the 96 MiB default instead of being killed there and regrown.
    visible = "def process(input_data):\n    block = b'x' * (150 * 1024 * 1024)\n    return {}\n"
    cluster = cluster_factory(coordinator_env={"RUNSURGE_COORDINATOR_TASK_MEMORY_BYTES": "96MiB"})
    cluster.add_contributor(memory="1GiB")
    with cluster.client() as client:
        job = client.submit(visible, "a")
        assert job.result(timeout=90) == {}
        (item,) = list(job.results())
    assert runs(cluster, job.id) == {0: 1}
    memory = item.memory
    assert memory is not None and memory.out_of_memory_at_bytes == []
    assert memory.estimate_method == "static"
    assert 150 * MiB <= memory.peak_bytes <= memory.reservation_bytes
    # `status --json` shows the same per task: estimate, what decided it, the peak.
    shown = cluster.cli("status", job.id, "--json")
    assert shown.returncode == 0, shown.stderr
    (task,) = json.loads(shown.stdout)["tasks"]
    assert task["memory"]["estimate_method"] == "static"
    assert task["memory"]["estimate_bytes"] >= 150 * MiB
    assert task["memory"]["peak_bytes"] == memory.peak_bytes
