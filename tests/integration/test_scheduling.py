"""Scheduling across real agents: no task waits on a busy agent while another is free."""

from __future__ import annotations

import time

from tests.integration.cluster import Cluster, wait_until

SLEEPER = (
    "import time\n"
    "\n"
    "def process(input_data: str) -> dict:\n"
    "    time.sleep(float(input_data))\n"
    "    return {'slept': float(input_data)}\n"
)


def test_short_job_runs_on_the_idle_agent_not_behind_a_long_task(cluster_factory) -> None:  # type: ignore[no-untyped-def]
    cluster: Cluster = cluster_factory()
    cluster.add_contributor(cores=1)
    cluster.add_contributor(cores=1)
    with cluster.client() as client:
        long_job = client.submit(SLEEPER, "60")
        wait_until(lambda: long_job.status().state == "RUNNING", 30, "the long task to start")
        start = time.monotonic()
        short = client.submit(SLEEPER, "0")
        assert short.result(timeout=30) == {"slept": 0.0}
        elapsed = time.monotonic() - start
        assert long_job.status().state == "RUNNING"
        long_job.cancel()
    assert elapsed < 10, f"the short job waited {elapsed:.1f} s behind the long one"


def test_task_larger_than_every_agent_says_why_then_fails_naming_both_sizes(
    cluster_factory,  # type: ignore[no-untyped-def]
) -> None:
    cluster: Cluster = cluster_factory(
        coordinator_env={
            "RUNSURGE_COORDINATOR_TASK_MEMORY_BYTES": "2GiB",
            "RUNSURGE_COORDINATOR_UNPLACEABLE_TIMEOUT_SECONDS": "4",
        }
    )
    cluster.add_contributor(cores=1, memory="1GiB")
    with cluster.client() as client:
        job = client.submit(SLEEPER, "0")
        wait_until(lambda: job.status().waiting_reason != "", 30, "a waiting reason")
        waiting = job.status()
        assert waiting.state == "QUEUED"
        assert "2.0 GiB" in waiting.waiting_reason and "1.0 GiB" in waiting.waiting_reason
        status = job.wait(timeout=30)
    assert status.state == "FAILED" and status.waiting_reason == ""
    assert status.error is not None and status.error.kind == "UNPLACEABLE"
    assert "reserves 2.0 GiB" in status.error.message
    assert "offers 1.0 GiB" in status.error.message


def test_a_prefetched_input_moves_to_an_agent_that_joins_idle(cluster_factory) -> None:  # type: ignore[no-untyped-def]
    cluster: Cluster = cluster_factory()
    cluster.add_contributor(cores=1)
    with cluster.client() as client:
        job = client.submit_group(SLEEPER, ["60", "0"])
        # One agent, one core: the long input runs, the short one waits there, prefetched.
        wait_until(lambda: job.status().tasks.running == 2, 30, "both inputs to be assigned")
        cluster.add_contributor(cores=1)  # idle, nothing queued: the prefetch is withdrawn
        wait_until(lambda: job.status().tasks.succeeded == 1, 40, "the short input to finish")
        assert job.status().tasks.running == 1, "the long input is still running"
        (short,) = [r for r in job.results() if r.ok]
        job.cancel()
    assert short.index == 1 and short.result == {"slept": 0.0}
