"""Losing a contributor, cancelling, restarting the coordinator: no task is lost or doubled."""

from __future__ import annotations

import signal
import time

from runsurge.client import Client, JobStatus
from runsurge.errors import CoordinatorUnreachable
from runsurge.store.states import AttemptState
from tests.integration.cluster import Cluster, free_port, wait_until
from tests.integration.executions import assert_each_ran_once, attempts, run_attempts, runs
from tests.integration.proxy import Proxy

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


def test_coordinator_restart_while_a_task_finishes_runs_it_once(cluster: Cluster) -> None:
    with cluster.client() as client:
        job = client.submit(SLEEPER, "2")
        wait_until(lambda: runs(cluster, job.id)[0] == 1, 30, "the task to start")
    cluster.stop_coordinator()
    wait_until(
        lambda: all(run_attempts(cluster, job.id).values()), 30, "the task to end in the outage"
    )
    time.sleep(cluster.lease_seconds)  # the outage outlasts the lease
    cluster.start_coordinator()  # same port, same data dir, same database
    with cluster.client() as client:
        assert client.job(job.id).result(timeout=60) == {"slept": 2.0}
        assert client.job(job.id).status().tasks.succeeded == 1
        # The agent reconnected by itself and takes new work.
        assert client.submit(SLEEPER, "0").result(timeout=30) == {"slept": 0.0}
    assert_each_ran_once(cluster, job.id, 1)


def test_coordinator_killed_mid_group_and_restarted_reruns_nothing(cluster_factory) -> None:  # type: ignore[no-untyped-def]
    cluster: Cluster = cluster_factory()
    cluster.add_contributor()
    cluster.add_contributor()
    inputs = ["1.5"] * 6
    with cluster.client() as client:
        job = client.submit_group(SLEEPER, inputs)
        wait_until(lambda: sum(runs(cluster, job.id).values()) >= 2, 30, "two tasks to start")
    cluster.stop_coordinator(signal.SIGKILL)
    time.sleep(cluster.lease_seconds)  # an outage of a few seconds, past the lease
    cluster.start_coordinator()
    with cluster.client() as client:
        status = client.job(job.id).wait(timeout=90)
        assert status.tasks.succeeded == len(inputs), status
        results = [r.result for r in client.job(job.id).results()]
    assert results == [{"slept": 1.5}] * len(inputs)
    assert_each_ran_once(cluster, job.id, len(inputs))


def test_stopped_contributor_past_its_lease_is_stopped_and_its_late_result_discarded(
    cluster_factory,  # type: ignore[no-untyped-def]
) -> None:
    cluster: Cluster = cluster_factory()
    frozen = cluster.add_contributor()
    with cluster.client() as client:
        job = client.submit(SLEEPER, "8")
        wait_until(lambda: runs(cluster, job.id)[0] == 1, 30, "the task to start")
        (first,) = run_attempts(cluster, job.id)
        cluster.add_contributor()
        frozen.send_signal(signal.SIGSTOP)
        try:
            wait_until(lambda: runs(cluster, job.id)[0] == 2, 30, "the task to run elsewhere")
        finally:
            frozen.send_signal(signal.SIGCONT)
        # Its stale attempt is stopped, not left to run to its end.
        wait_until(
            lambda: run_attempts(cluster, job.id)[first] != "", 30, "the stale attempt to end"
        )
        assert run_attempts(cluster, job.id)[first] == "CANCELLED"
        assert job.result(timeout=60) == {"slept": 8.0}
        assert job.status().tasks.succeeded == 1
    (stale, stale_state), (_, second_state) = attempts(cluster, job.id)[0]
    assert (stale, stale_state) == (first, AttemptState.LOST)
    assert second_state is AttemptState.SUCCEEDED
    assert runs(cluster, job.id) == {0: 2}


def test_report_swallowed_by_a_broken_connection_is_sent_again(cluster_factory) -> None:  # type: ignore[no-untyped-def]
    cluster: Cluster = cluster_factory(lease_seconds=10.0)
    proxy = Proxy(cluster.port)
    try:
        cluster.add_contributor(via=proxy.address)
        with cluster.client() as client:
            job = client.submit(SLEEPER, "1")
            wait_until(lambda: runs(cluster, job.id)[0] == 1, 30, "the task to start")
            # The report leaves the agent's outbox into a connection that delivers
            # nothing; then the connection breaks and the agent reconnects.
            proxy.blackhole = True
            wait_until(lambda: all(run_attempts(cluster, job.id).values()), 30, "the task to end")
            time.sleep(0.5)  # the report is written into the dead connection
            proxy.cut()
            assert job.result(timeout=60) == {"slept": 1.0}
    finally:
        proxy.close()
    assert_each_ran_once(cluster, job.id, 1)


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
