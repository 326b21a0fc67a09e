"""Losing a contributor, cancelling, restarting the coordinator: no task is lost or doubled."""

from __future__ import annotations

import signal

from runsurge.client import Client, JobStatus
from runsurge.errors import CoordinatorUnreachable
from tests.integration.cluster import Cluster, free_port, wait_until

SLEEPER = (
    "import time\n"
    "\n"
    "def process(input_data: str) -> dict:\n"
    "    time.sleep(float(input_data))\n"
    "    return {'slept': float(input_data)}\n"
)


def _state(client: Client, job_id: str) -> JobStatus:
    return client.job(job_id).status()


def test_contributor_killed_mid_task_is_requeued_and_finishes_elsewhere(cluster_factory) -> None:  # type: ignore[no-untyped-def]
    cluster: Cluster = cluster_factory()
    doomed = cluster.add_contributor()
    with cluster.client() as client:
        job = client.submit(SLEEPER, "3")
        wait_until(lambda: _state(client, job.id).state == "RUNNING", 30, "the job to start")
        cluster.add_contributor()
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(10)
        assert job.result(timeout=60) == {"slept": 3.0}
        status = job.status()
    assert status.tasks.succeeded == 1 and status.tasks.failed == 0


def test_cancel_stops_a_running_task_and_the_agent_goes_on(cluster: Cluster) -> None:
    with cluster.client() as client:
        job = client.submit(SLEEPER, "300")
        wait_until(lambda: _state(client, job.id).state == "RUNNING", 30, "the job to start")
        cancelled = job.cancel()
        assert cancelled.state == "CANCELLED"
        assert cancelled.tasks.cancelled == 1
        # The single contributor's slot is free again: a new job runs at once.
        assert client.submit(SLEEPER, "0").result(timeout=30) == {"slept": 0.0}
        assert job.status().state == "CANCELLED"


def test_cancelling_a_finished_job_is_a_conflict(cluster: Cluster) -> None:
    from runsurge.errors import Conflict

    with cluster.client() as client:
        job = client.submit(SLEEPER, "0")
        job.wait(timeout=30)
        try:
            job.cancel()
        except Conflict as exc:
            assert "already succeeded" in str(exc)
        else:
            raise AssertionError("cancelling a finished job must fail")


def test_coordinator_restart_mid_job_resumes_it(cluster: Cluster) -> None:
    with cluster.client() as client:
        job = client.submit(SLEEPER, "2")
        wait_until(lambda: _state(client, job.id).state == "RUNNING", 30, "the job to start")
    cluster.stop_coordinator()
    cluster.start_coordinator()  # same port, same data dir, same database
    with cluster.client() as client:
        assert client.job(job.id).result(timeout=60) == {"slept": 2.0}
        assert client.job(job.id).status().tasks.succeeded == 1
        # The agent reconnected by itself and takes new work.
        assert client.submit(SLEEPER, "0").result(timeout=30) == {"slept": 0.0}


def test_sdk_reports_a_coordinator_that_is_not_running() -> None:
    with Client(f"127.0.0.1:{free_port()}", "rsc_x") as client:
        try:
            client.jobs()
        except CoordinatorUnreachable as exc:
            assert "is it running?" in str(exc)
        else:
            raise AssertionError("expected CoordinatorUnreachable")


def test_queued_job_waits_for_a_contributor_that_joins_later(cluster_factory) -> None:  # type: ignore[no-untyped-def]
    cluster: Cluster = cluster_factory()
    with cluster.client() as client:
        job = client.submit(SLEEPER, "0")
        assert job.status().state == "QUEUED"
        cluster.add_contributor()
        assert job.result(timeout=30) == {"slept": 0.0}
