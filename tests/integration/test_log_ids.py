"""Both roles' log lines about a task name it the same way: job=… task=… attempt=…."""

from __future__ import annotations

import re
from pathlib import Path

from tests.integration.cluster import Cluster, wait_until
from tests.integration.executions import run_attempts

WORDCOUNT = Path(__file__).resolve().parents[2] / "examples" / "wordcount.py"


def _lines_naming(log: str, attempt_id: int) -> list[str]:
    """Lines that mention the attempt, however they spell it."""
    return [line for line in log.splitlines() if re.search(rf"attempt[= ]{attempt_id}\b", line)]


def test_coordinator_and_agent_log_lines_about_a_task_carry_its_job_task_and_attempt(
    cluster: Cluster,
) -> None:
    with cluster.client() as client:
        job = client.submit_group(WORDCOUNT, ["a b", "c d e"])
        job.wait(timeout=60)
    wait_until(lambda: len(run_attempts(cluster, job.id)) == 2, 10, "both runs in the log")
    coordinator = (cluster.root / "coordinator.log").read_text()
    agent = (cluster.root / "contributor-1.log").read_text()
    started = re.findall(rf"running job={job.id} task=(\d+) attempt=(\d+)", agent)
    assert sorted(int(index) for index, _ in started) == [0, 1]
    for index, attempt_id in ((int(i), int(a)) for i, a in started):
        ids = f"job={job.id} task={index} attempt={attempt_id}"
        for role, log, expected in (
            ("coordinator", coordinator, ("assigned to contributor", "reported OK")),
            ("agent", agent, ("running", "finished: OK")),
        ):
            lines = _lines_naming(log, attempt_id)
            for what in expected:
                assert any(what in line and ids in line for line in lines), (role, what, lines)
            # Consistently: no line names the attempt without its job and task.
            assert all(ids in line for line in lines), (role, lines)
