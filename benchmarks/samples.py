"""What storing and pruning live samples costs the coordinator's database.

Usage: python benchmarks/samples.py [postgresql://USER@HOST/ADMIN_DB]
(default: SQLite in a temporary dir; with a PostgreSQL URL, a fresh database is
created on that server for the run and dropped afterwards).

Prints the time of one writer round (the samples of 32 running tasks and 10 agents,
stored in one transaction), of one heartbeat transaction for comparison, and of
prune rounds: a table of 200,000 rows cut to 100,000 once, then the steady state
(2,000 new rows, a minute at 32 running tasks, cut each round); medians of runs.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import insert

from runsurge.coordinator import liveness
from runsurge.coordinator.samples import (
    NodeReading,
    SampleBatch,
    SampleRetention,
    TaskReading,
    prune_samples,
    store_samples,
)
from runsurge.store.blobs import DirectoryBlobStore
from runsurge.store.database import Database, sqlite_url
from runsurge.store.models import NodeSample, utcnow

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' Scene
from tests.unit.coordinator.scene import Scene

RUNS = 7


def _median_ms(fn: object, runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main(url: str) -> None:
    db = Database(url)
    db.migrate()
    scene = Scene(db, DirectoryBlobStore(Path(tempfile.mkdtemp()) / "blobs"))
    owner = scene.consumer()
    machines = [scene.contributor(f"m{i}", cores=4) for i in range(10)]
    scene.submit(owner, [b"x"] * 32)
    attempts = [(machines[i % 10], scene.claimed(machines[i % 10]).attempt_id) for i in range(32)]
    node = NodeReading(50.0, 1 << 30, 1 << 30, 1.0, 1 << 34)

    def flush() -> None:
        now = utcnow()
        batch = SampleBatch(
            nodes=[(m, now, node) for m in machines],
            tasks=[(m, now, TaskReading(a, 99.0, 1 << 26)) for m, a in attempts],
        )
        db.call(store_samples, batch)

    mine = [a for m, a in attempts if m == machines[0]]
    beat = liveness.AgentBeat(machines[0], mine, [], None)
    terms = liveness.LeaseTerms(lease_seconds=10, forget_after_seconds=6, wall_slack_seconds=120)
    flush_ms = _median_ms(flush)
    beat_ms = _median_ms(lambda: db.call(liveness.heartbeat, beat, terms))

    def fill(count: int) -> None:
        row = {
            "contributor_id": machines[0],
            "at": utcnow(),
            "cpu_percent": 1.0,
            "memory_used_bytes": 1,
            "memory_free_bytes": 1,
            "load_1m": 0.1,
            "disk_free_bytes": 1,
        }
        db.call(lambda s: s.execute(insert(NodeSample), [row] * count))

    def timed_prune() -> float:
        start = time.perf_counter()
        db.call(prune_samples, SampleRetention(rows=100_000, seconds=86400))
        return (time.perf_counter() - start) * 1000

    fill(200_000)
    bulk_ms = timed_prune()
    steady = []
    for _ in range(RUNS):  # a minute's excess at 32 running tasks: ~2,000 rows
        fill(2_000)
        steady.append(timed_prune())
    steady_ms = statistics.median(steady)
    print(f"database: {url.split(':')[0]}")
    print(f"writer round, 42 samples in one transaction: {flush_ms:.1f} ms")
    print(f"one heartbeat transaction (4 attempts):      {beat_ms:.1f} ms")
    print(f"ratio writer round / heartbeat:              {flush_ms / beat_ms:.2f}")
    print(f"prune round, 200,000 rows down to 100,000:   {bulk_ms:.0f} ms")
    print(f"prune round, 102,000 rows down to 100,000:   {steady_ms:.1f} ms")
    db.close()


@contextmanager
def _fresh_database(admin_url: str) -> Iterator[str]:
    """A new, empty database on the server of `admin_url`, dropped afterwards."""
    import psycopg

    name = f"rs_bench_{uuid.uuid4().hex[:12]}"
    plain = admin_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{admin_url.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1].startswith("postgresql"):
        with _fresh_database(sys.argv[1]) as url:
            main(url)
    else:
        main(sqlite_url(Path(tempfile.mkdtemp())))
