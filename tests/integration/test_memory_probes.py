"""Probes on a contributor: a task's peak is predicted in the sandbox before it runs.

The coordinator asks the agent to probe a task whose reservation no measurement
stands behind (the default, or a static prior) and whose input is large enough to
have prefixes. The agent runs the script on line-boundary prefixes, fits the growth,
and either runs the task (the estimate fits its reservation) or reports that it would
not fit, so that the coordinator requeues it with the estimate instead of letting it
be killed at its limit first. Each case counts full runs in the agents' logs.
"""

from __future__ import annotations

import pytest

from tests.integration.cluster import Cluster
from tests.integration.executions import attempts, runs

MiB = 1024 * 1024
# About 2.3 KB per 64-byte line: some 36 times its input, far above what the static
# prior (a comprehension over the lines: 15 bytes a byte) guesses.
HEAVY_PER_LINE = (
    "def process(input_data):\n"
    "    rows = [{'line': line, 'cells': list(range(200))} for line in input_data.splitlines()]\n"
    "    return {'rows': len(rows)}\n"
)
LINES = 131_072
INPUT = "".join(f"{i:06d}," + "x" * 57 + "\n" for i in range(LINES))  # 8 MiB

# The probe and retry rules are unit-tested on both databases (test_reservations,
# test_attempts); here the subject is the agent's sandbox.
pytestmark = pytest.mark.database_independent


def test_a_task_its_probes_say_outgrows_its_reservation_runs_once_with_the_estimate(
    cluster_factory,  # type: ignore[no-untyped-def]
) -> None:
    cluster: Cluster = cluster_factory(
        coordinator_env={"RUNSURGE_COORDINATOR_TASK_MEMORY_BYTES": "96MiB"}
    )
    cluster.add_contributor(memory="1GiB")
    with cluster.client() as client:
        job = client.submit_group(HEAVY_PER_LINE, [INPUT])
        status = job.wait(timeout=120)
        assert status.state == "SUCCEEDED", status
        (item,) = list(job.results())
    assert item.result == {"rows": LINES}
    # Two attempts, one full run: the first stopped after its probes, before running.
    assert runs(cluster, job.id) == {0: 1}
    assert len(attempts(cluster, job.id)[0]) == 2
    memory = item.memory
    assert memory is not None
    assert memory.estimate_method == "probes"
    assert memory.peak_bytes <= memory.estimate_bytes <= memory.reservation_bytes
    # Requeued with the estimate rounded up to a 16 MiB step, not the kill's doubling.
    assert memory.reservation_bytes - memory.estimate_bytes < 16 * MiB
    assert memory.reservation_bytes < 2 * memory.out_of_memory_at_bytes[0]


def test_a_task_whose_probes_fit_its_reservation_runs_at_once_and_keeps_the_estimate(
    cluster_factory,  # type: ignore[no-untyped-def]
) -> None:
    cluster: Cluster = cluster_factory()  # the 512 MiB default holds this task
    cluster.add_contributor(memory="1GiB")
    with cluster.client() as client:
        job = client.submit_group(HEAVY_PER_LINE, [INPUT])
        assert job.wait(timeout=120).state == "SUCCEEDED"
        (item,) = list(job.results())
    assert runs(cluster, job.id) == {0: 1}
    assert len(attempts(cluster, job.id)[0]) == 1
    memory = item.memory
    assert memory is not None and memory.out_of_memory_at_bytes == []
    assert memory.estimate_method == "probes"
    assert memory.peak_bytes <= memory.estimate_bytes <= memory.reservation_bytes


def test_a_task_its_probes_put_far_above_its_jobs_limit_fails_without_running(
    cluster_factory,  # type: ignore[no-untyped-def]
) -> None:
    cluster: Cluster = cluster_factory()
    cluster.add_contributor(memory="1GiB")
    with cluster.client() as client:
        job = client.submit_group(HEAVY_PER_LINE, [INPUT], memory="64MiB")
        assert job.wait(timeout=120).state == "FAILED"
        (item,) = list(job.results())
    assert runs(cluster, job.id) == {}
    assert item.error is not None and item.error.kind == "OUT_OF_MEMORY"
    assert "probes predict a peak of" in item.error.message
    assert "--memory" in item.error.message
