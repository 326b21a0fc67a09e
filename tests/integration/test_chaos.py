"""Faults under a running group: a long coordinator outage, a cut connection, poison.

Each test uses real processes on SQLite and PostgreSQL, checks that every input's
result is recorded exactly once, and counts how often each task really ran (the
agents' logs and the attempts table, tests/integration/executions.py).
"""

from __future__ import annotations

import signal
import time
from collections import Counter

from runsurge.store.states import AttemptState
from tests.integration.cluster import Cluster, free_port, wait_until
from tests.integration.executions import (
    assert_each_ran_once,
    attempts,
    attempts_run_on,
    reached_agent,
    runs,
)
from tests.integration.proxy import Proxy
from tests.integration.test_metrics import scrape

SLEEPER = "import time\ndef process(s):\n    time.sleep(float(s))\n    return {'slept': float(s)}\n"
LEASE = 2.0
STARTUP_GRACE = 1.0  # below the lease: the lease is the grace (build_coordinator)


def _running_attempts(cluster: Cluster, job_id: str) -> dict[int, int]:
    """Attempt id → task index of the job's RUNNING attempts, read from the database."""
    return {
        attempt_id: index
        for index, rows in attempts(cluster, job_id).items()
        for attempt_id, state in rows
        if state is AttemptState.RUNNING
    }


def test_long_coordinator_outage_reruns_only_the_work_of_an_agent_back_after_the_grace(
    cluster_factory,  # type: ignore[no-untyped-def]
) -> None:
    metrics = f"127.0.0.1:{free_port()}"
    cluster: Cluster = cluster_factory(
        lease_seconds=LEASE,
        coordinator_env={
            "RUNSURGE_COORDINATOR_STARTUP_GRACE_SECONDS": str(STARTUP_GRACE),
            "RUNSURGE_COORDINATOR_METRICS_LISTEN": metrics,
        },
        contributor_env={"RUNSURGE_CONTRIBUTOR_RECONNECT_MAX_SECONDS": "0.5"},
    )
    proxy = Proxy(cluster.port)
    try:
        cluster.add_contributor()  # 1: back at once after the restart
        cluster.add_contributor(via=proxy.address)  # 2: cut off past the grace
        inputs = ["1"] * 6
        with cluster.client() as client:
            job = client.submit_group(SLEEPER, inputs)
            wait_until(
                lambda: attempts_run_on(cluster, 1, job.id) and attempts_run_on(cluster, 2, job.id),
                30,
                "both agents to run a task",
            )
            # In flight: the coordinator has heard from agent 2 that it runs its task.
            wait_until(
                lambda: (
                    reached_agent(cluster, attempts_run_on(cluster, 2, job.id))
                    == attempts_run_on(cluster, 2, job.id)
                ),
                10,
                "a heartbeat to list agent 2's task",
            )
        cluster.stop_coordinator(signal.SIGKILL)
        in_flight = _running_attempts(cluster, job.id)
        # What the coordinator knew had reached an agent when it died; an assignment
        # prefetched behind a running one may have arrived unannounced.
        known_reached = reached_agent(cluster, set(in_flight))
        proxy.blackhole = True  # agent 2 cannot reach the restarted coordinator
        time.sleep(LEASE + STARTUP_GRACE + 0.2)  # a long outage: past lease and grace
        cluster.start_coordinator()
        # Agent 2's leases lapse after the grace; agent 1 reran their tasks meanwhile.
        wait_until(
            lambda: all(
                state is not AttemptState.RUNNING
                for rows in attempts(cluster, job.id).values()
                for a, state in rows
                if a in in_flight and a in attempts_run_on(cluster, 2, job.id)
            ),
            20,
            "agent 2's attempts to be lost",
        )
        proxy.cut()  # agent 2 is back; its held reports are late and ignored
        with cluster.client() as client:
            status = client.job(job.id).wait(timeout=60)
            assert status.tasks.succeeded == len(inputs), status
            assert [r.result for r in client.job(job.id).results()] == [{"slept": 1.0}] * 6
        counted = scrape(metrics)
    finally:
        proxy.close()
    cut_off = {a for a in in_flight if a in attempts_run_on(cluster, 2, job.id)}
    rerun_tasks = {in_flight[a] for a in cut_off}
    assert rerun_tasks, "agent 2 had nothing in flight: the test proved nothing"
    # The bound: only what was in flight on the agent that came back too late reran,
    # once each; agent 1's in-flight work, reported after the restart, did not.
    assert len(rerun_tasks) <= len(in_flight)
    expected = Counter({i: 2 if i in rerun_tasks else 1 for i in range(len(inputs))})
    assert runs(cluster, job.id) == expected
    for index, rows in attempts(cluster, job.id).items():
        states = [state for _, state in rows if state is not AttemptState.LOST]
        assert states == [AttemptState.SUCCEEDED], f"task {index}: {rows}"
    # Counted where an operator looks: the metric, and LOST attempts that reached an agent.
    # The metric counts the reruns the coordinator could know of: those whose lost
    # attempt it had heard reached agent 2 (the rest it learns of from the late reports).
    known_reruns = {in_flight[a] for a in cut_off & known_reached}
    assert known_reruns, "no heartbeat had listed agent 2's running task"
    assert counted[("runsurge_task_reruns_total", ())] == len(known_reruns)
    # ... and the lost attempts marked as having reached agent 2 (the unannounced
    # one only if agent 2's late report arrived before this read).
    assert reached_agent(cluster, cut_off) >= cut_off & known_reached


def test_cut_connection_restored_within_the_lease_loses_and_repeats_nothing(
    cluster_factory,  # type: ignore[no-untyped-def]
) -> None:
    metrics = f"127.0.0.1:{free_port()}"
    cluster: Cluster = cluster_factory(
        lease_seconds=4.0,
        coordinator_env={"RUNSURGE_COORDINATOR_METRICS_LISTEN": metrics},
        contributor_env={"RUNSURGE_CONTRIBUTOR_RECONNECT_MAX_SECONDS": "0.5"},
    )
    proxy = Proxy(cluster.port)
    try:
        cluster.add_contributor(via=proxy.address)
        inputs = ["0.8"] * 4
        with cluster.client() as client:
            job = client.submit_group(SLEEPER, inputs)
            wait_until(lambda: runs(cluster, job.id)[0] == 1, 30, "the first task to start")
            # Nothing gets through either way, then the connection drops: the task in
            # flight finishes in the dark and its report waits for the new stream.
            proxy.blackhole = True
            time.sleep(1.5)
            proxy.cut()
            status = client.job(job.id).wait(timeout=60)
            assert status.tasks.succeeded == len(inputs), status
            assert [r.result for r in client.job(job.id).results()] == [{"slept": 0.8}] * 4
        counted = scrape(metrics)
    finally:
        proxy.close()
    assert_each_ran_once(cluster, job.id, len(inputs))
    assert counted.get(("runsurge_attempts_lost_total", (("why", "lease"),)), 0) == 0
    assert counted[("runsurge_task_reruns_total", ())] == 0


OOM_POISON = (
    "def process(s):\n    keep = []\n    while True:\n        keep.append(b'x' * (1 << 20))\n"
)


def test_a_poisoned_task_uses_its_retries_while_healthy_jobs_beside_it_finish_once(
    cluster_factory,  # type: ignore[no-untyped-def]
) -> None:
    # 64 MiB first, then doubled: 128, 256 (the agents' offer), then it fails.
    cluster: Cluster = cluster_factory(
        coordinator_env={"RUNSURGE_COORDINATOR_TASK_MEMORY_BYTES": "64MiB"}
    )
    cluster.add_contributor(memory="256MiB")
    cluster.add_contributor(memory="256MiB")
    with cluster.client() as client:
        poisoned = client.submit(OOM_POISON, "x")
        group = client.submit_group(SLEEPER, ["0.2"] * 6)
        single = client.submit(SLEEPER, "0.1")
        assert single.result(timeout=60) == {"slept": 0.1}
        assert group.wait(timeout=60).tasks.succeeded == 6
        final = poisoned.wait(timeout=60)
        assert final.state == "FAILED"
        assert final.error is not None and final.error.kind == "OUT_OF_MEMORY", final.error
    assert runs(cluster, poisoned.id) == {0: 3}
    assert [state for _, state in attempts(cluster, poisoned.id)[0]] == [AttemptState.FAILED] * 3
    assert_each_ran_once(cluster, group.id, 6)
    assert_each_ran_once(cluster, single.id, 1)
