"""Per-job options and idempotent submission through a real coordinator and agent.

Each limit is asserted on what the coordinator recorded (the attempt's policy and
outcome, the task's attempts), never on how long something took.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from runsurge.client import Client
from runsurge.errors import Conflict, InvalidRequest
from tests.integration.cluster import Cluster
from tests.integration.executions import attempt_limits, budget_used, runs
from tests.integration.rpc import admin_json

SLEEPS_30S = "import time\n\ndef process(input_data):\n    time.sleep(30)\n    return {}\n"
COUNTS = "def process(input_data):\n    return {'n': len(input_data)}\n"
# Touches as many MiB as its input says: above the first reservation, the kernel kills it.
NEEDS_INPUT_MIB = (
    "def process(input_data):\n"
    "    block = b'x' * (int(input_data) * 1024 * 1024)\n"
    "    return {'held': len(block)}\n"
)
# The coordinator's own limits in these tests: a job may lower them, never raise them.
MAXIMA = {
    "RUNSURGE_COORDINATOR_TASK_WALL_SECONDS": "60",
    "RUNSURGE_COORDINATOR_TASK_CPU_SECONDS": "60",
    "RUNSURGE_COORDINATOR_MAX_ATTEMPTS": "3",
}

# The rules (policy, retries, fairness, keys) are unit-tested on both databases.
pytestmark = pytest.mark.database_independent


@pytest.fixture
def bounded(cluster_factory: Callable[..., Cluster]) -> Cluster:
    """A coordinator with a 60 s wall and CPU limit and 3 attempts, and one agent."""
    cluster = cluster_factory(coordinator_env=MAXIMA)
    cluster.add_contributor()
    return cluster


def test_task_over_its_own_wall_limit_stops_at_that_limit_not_the_coordinators(
    bounded: Cluster, tmp_path: Path
) -> None:
    script = tmp_path / "sleeps.py"
    script.write_text(SLEEPS_30S)
    run = bounded.cli("submit", str(script), "-", "--wall-time", "2s", "--json", stdin=b"x")
    assert run.returncode == 0, run.stderr
    job_id = json.loads(run.stdout)["job"]["id"]

    with bounded.client() as client:
        status = client.job(job_id).wait(timeout=120)

    assert status.state == "FAILED" and status.error is not None
    assert status.error.kind == "TIMEOUT"
    assert status.wall_seconds == 2.0
    assert attempt_limits(bounded, job_id) == [("TIMEOUT", 2.0, 60.0)]


def test_jobs_max_attempts_is_honoured(cluster_factory: Callable[..., Cluster]) -> None:
    # The first attempt reserves 96 MiB and is killed there; the coordinator would
    # retry it with more (test_memory_limits), but this job allows one attempt only.
    cluster = cluster_factory(
        coordinator_env={**MAXIMA, "RUNSURGE_COORDINATOR_TASK_MEMORY_BYTES": "96MiB"}
    )
    cluster.add_contributor(memory="1GiB")
    with cluster.client() as client:
        job = client.submit_group(NEEDS_INPUT_MIB, ["150"], max_attempts=1)
        status = job.wait(timeout=90)
        (item,) = list(job.results())

    assert status.state == "FAILED" and status.max_attempts == 1
    assert item.error is not None and item.error.kind == "OUT_OF_MEMORY"
    assert "gave up after 1 attempts" in item.error.message
    assert budget_used(cluster, job.id) == {0: 1}
    assert runs(cluster, job.id) == {0: 1}


def test_limits_above_the_coordinators_maxima_are_refused_naming_them(
    bounded: Cluster, tmp_path: Path
) -> None:
    with bounded.client() as client:
        with pytest.raises(InvalidRequest, match=r"--wall-time 3600s is above .* maximum of 60s"):
            client.submit(COUNTS, "x", wall_time="1h")
        with pytest.raises(InvalidRequest, match=r"--max-attempts 4 is above .* maximum of 3"):
            client.submit_group(COUNTS, ["x"], max_attempts=4)
        assert client.jobs() == []  # nothing was created
    script = tmp_path / "counts.py"
    script.write_text(COUNTS)

    run = bounded.cli("submit", str(script), "-", "--cpu-time", "2m", stdin=b"x")

    assert run.returncode == 2
    assert "--cpu-time 120s is above this coordinator's maximum of 60s" in run.stderr


def test_labels_and_options_round_trip_through_status_and_jobs_json(
    bounded: Cluster, tmp_path: Path
) -> None:
    script = tmp_path / "counts.py"
    script.write_text(COUNTS)
    run = bounded.cli(
        *("submit", str(script), "-", "--json", "--priority", "4", "--max-attempts", "2"),
        *("--label", "team=ml", "--label", "run=7", "--cpu-time", "30s"),
        stdin=b"x",
    )
    assert run.returncode == 0, run.stderr
    job_id = json.loads(run.stdout)["job"]["id"]

    shown = json.loads(bounded.cli("status", job_id, "--json").stdout)["job"]
    (listed,) = json.loads(bounded.cli("jobs", "--json").stdout)["jobs"]

    for job in (shown, listed):
        assert job["labels"] == {"run": "7", "team": "ml"}
        assert (job["priority"], job["max_attempts"], job["cpu_seconds"]) == (4, 2, 30.0)


def test_idempotent_retry_returns_the_same_job_and_runs_its_input_once(bounded: Cluster) -> None:
    with bounded.client() as client:
        first = client.submit(COUNTS, "abc", idempotency_key="order-17")
        assert first.wait(timeout=60).state == "SUCCEEDED"

        again = client.submit(COUNTS, "abc", idempotency_key="order-17")
        again_state = again.status().state
        with pytest.raises(Conflict, match="with a different script"):
            client.submit(COUNTS + "# changed\n", "abc", idempotency_key="order-17")
        listed = client.jobs()

    assert again.id == first.id and again_state == "SUCCEEDED"
    assert [j.id for j in listed] == [first.id]
    assert runs(bounded, first.id) == {0: 1}
    other_token = admin_json(bounded, "add-consumer", "other")["token"]
    with Client(bounded.address, other_token) as other:  # keys are per consumer
        assert other.submit(COUNTS, "abc", idempotency_key="order-17").id != first.id
