"""Packing a mix of task sizes onto small machines: nobody runs out of memory.

Three contributors offer 256 MiB each; three groups reserve up to 64, 128 and 224 MiB
per task (their --memory; calibration may lower it) and really use most of it. Every
task must finish at its first attempt, and no contributor may ever hold reservations
above its offer.
The intervals checked are the coordinator's (claim to report), which contain the
agent's run, so the bound holds on the machines too.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from runsurge.store.database import Database, sqlite_url
from runsurge.store.models import Attempt
from tests.integration.cluster import Cluster

# Placement and cgroup limits; the claim queries are tested on both databases.
pytestmark = pytest.mark.database_independent

MiB = 1024 * 1024
OFFER = 256 * MiB


def _script(mib: int) -> str:
    return (
        "import time\n"
        "def process(input_data):\n"
        f"    block = b'x' * ({mib} * 1024 * 1024)\n"
        "    time.sleep(0.3)\n"
        "    return {'held': len(block)}\n"
    )


def _overcommitted(cluster: Cluster) -> list[str]:
    """Moments when a contributor held more reservations than its offer."""
    db = Database(cluster.db_url or sqlite_url(cluster.data_dir))
    try:
        rows = db.call(
            lambda s: s.execute(
                select(
                    Attempt.contributor_id,
                    Attempt.started_at,
                    Attempt.finished_at,
                    Attempt.memory_reservation_bytes,
                )
            ).all()
        )
    finally:
        db.close()
    problems = []
    for row in rows:
        held = sum(
            other.memory_reservation_bytes
            for other in rows
            if other.contributor_id == row.contributor_id
            and other.started_at <= row.started_at
            and (other.finished_at is None or other.finished_at > row.started_at)
        )
        if held > OFFER:
            problems.append(f"{row.contributor_id} held {held // MiB} MiB at {row.started_at}")
    return problems


def test_a_mix_of_task_sizes_on_small_machines_finishes_without_one_oom_kill(
    cluster_factory,  # type: ignore[no-untyped-def]
) -> None:
    cluster: Cluster = cluster_factory()
    for _ in range(3):
        cluster.add_contributor(cores=2, memory="256MiB")
    sizes = {64: 30, 128: 90, 224: 160}  # reservation (MiB) → what the task uses
    with cluster.client() as client:
        jobs = {
            limit: client.submit_group(_script(used), ["a"] * 4, memory=f"{limit}MiB")
            for limit, used in sizes.items()
        }
        for limit, job in jobs.items():
            assert job.wait(timeout=120).state == "SUCCEEDED", limit
            for item in job.results():
                assert item.memory is not None
                assert item.memory.out_of_memory_at_bytes == [], (limit, item.memory)
                assert item.memory.attempts == 1
                # At the job's --memory, or below it once its first inputs calibrated
                # the rest (coordinator/estimates.py); never below what the task used.
                assert item.memory.reservation_bytes <= limit * MiB
                assert item.memory.reservation_bytes >= item.memory.peak_bytes
                assert item.memory.peak_bytes >= sizes[limit] * MiB
    assert _overcommitted(cluster) == []
