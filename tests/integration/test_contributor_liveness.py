"""Contributor liveness with real processes: drain, hand-back, identity, suspect, quarantine.

Every test counts how often each task really ran (executions.py), on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import json
import signal
import stat
import time

import grpc
import pytest

from runsurge.proto.v1 import contributor_pb2, contributor_pb2_grpc
from runsurge.store.states import AttemptState
from tests.integration.cluster import Cluster, wait_until
from tests.integration.executions import (
    assert_each_ran_once,
    attempts,
    budget_used,
    holders,
    runs,
)
from tests.integration.proxy import Proxy

SLEEPER = (
    "import time\n"
    "\n"
    "def process(input_data: str) -> dict:\n"
    "    time.sleep(float(input_data))\n"
    "    return {'slept': float(input_data)}\n"
)


def _only_id(cluster: Cluster) -> str:
    (row,) = cluster.contributor_rows()
    return str(row["id"])


def _wait_state(cluster: Cluster, contributor_id: str, state: str, timeout: float = 20) -> None:
    wait_until(
        lambda: cluster.contributor_state(contributor_id) == state,
        timeout,
        f"contributor {contributor_id} to be {state}",
    )


def test_sigterm_drains_a_running_task_records_it_once_places_nothing_new_and_exits_0(
    cluster_factory,  # type: ignore[no-untyped-def]
) -> None:
    cluster: Cluster = cluster_factory()
    agent = cluster.add_contributor(cores=2)  # a free slot while it drains
    agent_id = _only_id(cluster)
    with cluster.client() as client:
        running = client.submit(SLEEPER, "3")
        wait_until(lambda: runs(cluster, running.id)[0] == 1, 30, "the task to start")

        agent.send_signal(signal.SIGTERM)
        _wait_state(cluster, agent_id, "DRAINING")
        later = client.submit(SLEEPER, "0")

        assert agent.wait(30) == 0
        assert running.result(timeout=5) == {"slept": 3.0}
        assert_each_ran_once(cluster, running.id, 1)
        assert runs(cluster, later.id) == {} and attempts(cluster, later.id) == {}
        assert later.status().state == "QUEUED"
        _wait_state(cluster, agent_id, "OFFLINE")  # its stream ended with it

        cluster.add_contributor()
        assert later.result(timeout=30) == {"slept": 0.0}


@pytest.mark.parametrize("how", ["second SIGTERM", "grace over"])
def test_handed_back_work_runs_elsewhere_without_consuming_the_retry_budget(
    cluster_factory,  # type: ignore[no-untyped-def]
    how: str,
) -> None:
    # One attempt per task: a hand-back that counted would fail the task outright.
    cluster: Cluster = cluster_factory(
        coordinator_env={"RUNSURGE_COORDINATOR_MAX_ATTEMPTS": "1"},
        contributor_env={
            "RUNSURGE_CONTRIBUTOR_DRAIN_GRACE_SECONDS": "1" if how == "grace over" else "600"
        },
    )
    leaving = cluster.add_contributor()
    leaving_id = _only_id(cluster)
    with cluster.client() as client:
        job = client.submit(SLEEPER, "4")
        wait_until(lambda: runs(cluster, job.id)[0] == 1, 30, "the task to start")
        leaving.send_signal(signal.SIGTERM)
        _wait_state(cluster, leaving_id, "DRAINING")
        if how == "second SIGTERM":
            leaving.send_signal(signal.SIGTERM)
        assert leaving.wait(15) == 0  # well before the 4 s task could have finished
        cluster.add_contributor()

        assert job.result(timeout=60) == {"slept": 4.0}
    assert runs(cluster, job.id)[0] == 2  # once on each agent
    (rows,) = attempts(cluster, job.id).values()
    assert [state for _, state in rows] == [AttemptState.CANCELLED, AttemptState.SUCCEEDED]
    assert budget_used(cluster, job.id) == {0: 1}  # only the attempt that ran to the end


def test_restarted_agent_keeps_its_identity_and_its_old_attempts_are_requeued_at_once(
    cluster_factory,  # type: ignore[no-untyped-def]
) -> None:
    # Slow heartbeats and a long lease: only the restart itself can requeue in time.
    cluster: Cluster = cluster_factory(lease_seconds=60.0, heartbeat_seconds=10.0)
    agent = cluster.add_contributor()
    agent_id = _only_id(cluster)
    identity = cluster.work_dir(1) / "identity.json"
    assert json.loads(identity.read_text())["contributor_id"] == agent_id
    assert stat.S_IMODE(identity.stat().st_mode) == 0o600
    with cluster.client() as client:
        job = client.submit(SLEEPER, "1")
        wait_until(lambda: runs(cluster, job.id)[0] == 1, 30, "the task to start")
        agent.send_signal(signal.SIGKILL)
        agent.wait(10)

        restarted_at = time.monotonic()
        cluster.add_contributor(number=1, wait=False)
        assert job.result(timeout=30) == {"slept": 1.0}
        assert time.monotonic() - restarted_at < 15  # not the 30 s forget grace, nor the lease

    rows = cluster.contributor_rows()
    assert [(r["id"], r["state"]) for r in rows] == [(agent_id, "ONLINE")]
    (task_attempts,) = attempts(cluster, job.id).values()
    assert [state for _, state in task_attempts] == [AttemptState.LOST, AttemptState.SUCCEEDED]
    assert holders(cluster, job.id) == {agent_id: 2}


def test_a_forged_identity_is_refused_and_a_tampered_identity_file_stops_the_agent(
    cluster_factory,  # type: ignore[no-untyped-def]
) -> None:
    cluster: Cluster = cluster_factory()
    agent = cluster.add_contributor()
    agent_id = _only_id(cluster)
    enrolment = (cluster.data_dir / "contributor.token").read_text().strip()
    with grpc.insecure_channel(cluster.address) as channel:
        stub = contributor_pb2_grpc.ContributorServiceStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            stub.Register(
                contributor_pb2.RegisterRequest(
                    name="thief",
                    cores=1,
                    memory_bytes=1 << 30,
                    contributor_id=agent_id,
                    contributor_secret="rsi_forged",
                ),
                metadata=[("authorization", f"Bearer {enrolment}")],
                timeout=10,
            )
    assert refused.value.code() is grpc.StatusCode.PERMISSION_DENIED
    assert "identity.json" in (refused.value.details() or "")

    agent.send_signal(signal.SIGTERM)
    assert agent.wait(30) == 0
    identity = cluster.work_dir(1) / "identity.json"
    identity.write_text(json.dumps({"contributor_id": agent_id, "secret": "rsi_tampered"}))
    tampered = cluster.add_contributor(number=1, wait=False)

    assert tampered.wait(30) == 2
    assert "delete identity.json" in cluster.log("contributor-1.log")
    assert [(r["id"], r["name"]) for r in cluster.contributor_rows()] == [(agent_id, "test-1")]


def test_a_stopped_agent_is_suspect_gets_no_work_and_is_online_again_when_it_resumes(
    cluster_factory,  # type: ignore[no-untyped-def]
) -> None:
    cluster: Cluster = cluster_factory(lease_seconds=10.0)
    agent = cluster.add_contributor()
    agent_id = _only_id(cluster)
    with cluster.client() as client:
        agent.send_signal(signal.SIGSTOP)
        try:
            _wait_state(cluster, agent_id, "SUSPECT")
            job = client.submit(SLEEPER, "0")
            time.sleep(1.0)  # dispatch rounds run every second at the latest
            assert attempts(cluster, job.id) == {}
        finally:
            agent.send_signal(signal.SIGCONT)
        _wait_state(cluster, agent_id, "ONLINE")
        assert job.result(timeout=30) == {"slept": 0.0}
    assert_each_ran_once(cluster, job.id, 1)


def test_a_flapping_contributor_is_quarantined_and_gets_no_work_while_a_healthy_one_does(
    cluster_factory,  # type: ignore[no-untyped-def]
) -> None:
    cluster: Cluster = cluster_factory(
        coordinator_env={"RUNSURGE_COORDINATOR_QUARANTINE_FLAPS": "2"}
    )
    proxy = Proxy(cluster.port)
    try:
        cluster.add_contributor(via=proxy.address)
        flaky_id = _only_id(cluster)
        proxy.cut()  # flap 1: its stream breaks; it reconnects
        wait_until(
            lambda: (
                cluster.contributor_state(flaky_id) == "ONLINE"
                and any(r["online"] for r in cluster.contributor_rows())
            ),
            30,
            "the flaky agent to reconnect",
        )
        time.sleep(0.5)
        proxy.cut()  # flap 2
        _wait_state(cluster, flaky_id, "QUARANTINED")
        (row,) = cluster.contributor_rows()
        assert str(row["state_reason"]).startswith("2 heartbeat flaps in 10 min")

        cluster.add_contributor()
        healthy_id = next(str(r["id"]) for r in cluster.contributor_rows() if r["id"] != flaky_id)
        with cluster.client() as client:
            job = client.submit_group(SLEEPER, ["0.2"] * 4)
            job.wait(timeout=60)
            assert job.status().tasks.succeeded == 4
        assert holders(cluster, job.id) == {healthy_id: 4}
        listed = cluster.cli("contributors")
        assert listed.returncode == 0 and "QUARANTINED" in listed.stdout
        assert "heartbeat flaps" in listed.stdout
    finally:
        proxy.close()
