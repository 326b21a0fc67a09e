"""Counting how often each task really ran: in the agents' logs and in the database.

A test that promises "nothing reruns" must be able to see a rerun. Agents log
`running job=… task=… attempt=…` when a sandbox run starts; the database keeps one
attempt row per claim. Both are counted per task index.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from runsurge.store.database import Database, sqlite_url
from runsurge.store.models import Attempt, Task
from runsurge.store.states import AttemptState
from tests.integration.cluster import Cluster

T = TypeVar("T")

_RUNNING = re.compile(r"running job=(\S+) task=(-?\d+) attempt=(\d+)")
_FINISHED = re.compile(r"job=(\S+) task=(-?\d+) attempt=(\d+) finished: (\w+)")


def _agent_logs(cluster: Cluster) -> str:
    return "".join(
        path.read_text(errors="replace") for path in sorted(cluster.root.glob("contributor-*.log"))
    )


def runs(cluster: Cluster, job_id: str) -> Counter[int]:
    """Sandbox runs started per task index, read from every agent's log."""
    return Counter(
        int(task) for job, task, _ in _RUNNING.findall(_agent_logs(cluster)) if job == job_id
    )


def attempts_run_on(cluster: Cluster, contributor: int, job_id: str) -> set[int]:
    """Attempt ids whose sandbox run started on the `contributor`-th agent (1-based)."""
    path = cluster.root / f"contributor-{contributor}.log"
    logs = path.read_text(errors="replace") if path.exists() else ""
    return {int(a) for job, _, a in _RUNNING.findall(logs) if job == job_id}


def run_attempts(cluster: Cluster, job_id: str) -> dict[int, str]:
    """Attempt id → how it finished on its agent ('' while running), from the logs."""
    logs = _agent_logs(cluster)
    found = {int(a): "" for job, _, a in _RUNNING.findall(logs) if job == job_id}
    for job, _, attempt, outcome in _FINISHED.findall(logs):
        if job == job_id and int(attempt) in found:
            found[int(attempt)] = outcome
    return found


def _database(cluster: Cluster) -> Database:
    return Database(cluster.db_url or sqlite_url(cluster.data_dir))


def _read(cluster: Cluster, query: Callable[[Session], T]) -> T:
    """`query` in one transaction on the cluster's database, opened for it alone."""
    db = _database(cluster)
    try:
        return db.call(query)
    finally:
        db.close()


def attempts(cluster: Cluster, job_id: str) -> dict[int, list[tuple[int, AttemptState]]]:
    """(attempt id, state) per task index, oldest first, read from the database."""
    rows = _read(
        cluster,
        lambda s: s.execute(
            select(Task.index, Attempt.id, Attempt.state)
            .join(Task, Task.id == Attempt.task_id)
            .where(Task.job_id == job_id)
            .order_by(Attempt.id)
        ).all(),
    )
    found: dict[int, list[tuple[int, AttemptState]]] = {}
    for index, attempt_id, state in rows:
        found.setdefault(index, []).append((attempt_id, state))
    return found


def budget_used(cluster: Cluster, job_id: str) -> dict[int, int]:
    """Attempts counted against each task's retry budget (Task.attempt_count), by index."""
    rows = _read(
        cluster,
        lambda s: s.execute(
            select(Task.index, Task.attempt_count).where(Task.job_id == job_id)
        ).all(),
    )
    return {index: count for index, count in rows}


def holders(cluster: Cluster, job_id: str) -> Counter[str]:
    """Attempts per contributor id for one job, read from the database."""
    rows = _read(
        cluster,
        lambda s: s.scalars(
            select(Attempt.contributor_id)
            .join(Task, Task.id == Attempt.task_id)
            .where(Task.job_id == job_id)
        ).all(),
    )
    return Counter(rows)


def reached_agent(cluster: Cluster, attempt_ids: set[int]) -> set[int]:
    """Those of `attempt_ids` the coordinator heard had reached their agent."""
    return set(
        _read(
            cluster,
            lambda s: s.scalars(
                select(Attempt.id).where(Attempt.id.in_(attempt_ids), Attempt.reached_agent)
            ).all(),
        )
    )


def assert_each_ran_once(cluster: Cluster, job_id: str, tasks: int) -> None:
    """Every task ran exactly once: one sandbox run in the logs, one success in the DB.

    A claim whose assignment died with the coordinator before reaching an agent may
    leave a LOST attempt that never ran; any other extra attempt is a rerun.
    """
    ran = runs(cluster, job_id)
    assert ran == Counter(dict.fromkeys(range(tasks), 1)), f"sandbox runs per task: {ran}"
    ran_ids = set(run_attempts(cluster, job_id))
    for index, rows in attempts(cluster, job_id).items():
        succeeded = [a for a, state in rows if state is AttemptState.SUCCEEDED]
        assert len(succeeded) == 1, f"task {index} attempts: {rows}"
        reruns = [a for a, state in rows if a != succeeded[0] and a in ran_ids]
        assert not reruns, f"task {index} ran again as attempts {reruns}: {rows}"


def attempt_limits(cluster: Cluster, job_id: str) -> list[tuple[str, float, float]]:
    """(outcome, policy wall seconds, policy CPU seconds) of each attempt, oldest first."""
    rows = _read(
        cluster,
        lambda s: s.execute(
            select(Attempt.outcome, Attempt.policy_wall_seconds, Attempt.policy_cpu_seconds)
            .join(Task, Task.id == Attempt.task_id)
            .where(Task.job_id == job_id)
            .order_by(Attempt.id)
        ).all(),
    )
    return [(outcome.value if outcome else "", wall, cpu) for outcome, wall, cpu in rows]
