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
