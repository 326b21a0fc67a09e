"""Samples on the real database: batched storage, who may read them, retention."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from runsurge.coordinator import jobs
from runsurge.coordinator.outputs import finished_outputs
from runsurge.coordinator.samples import (
    SampleBatch,
    SampleBuffer,
    SampleRetention,
    latest_node_readings,
    prune_samples,
    store_samples,
    task_samples,
)
from runsurge.errors import NotFound
from runsurge.readings import NodeReading, TaskReading
from runsurge.store.models import NodeSample, TaskSample, utcnow
from tests.unit.coordinator.scene import Scene


def _node(load: float = 0.75) -> NodeReading:
    return NodeReading(12.5, 3_000, 1_000, load, 9_000)


def _count(scene: Scene, table: type[NodeSample] | type[TaskSample]) -> int:
    return int(scene.db.call(lambda s: s.scalar(select(func.count()).select_from(table))))


def _store_nodes(scene: Scene, contributor_id: str, ages_seconds: list[float]) -> None:
    now = utcnow()
    batch = SampleBatch(
        nodes=[(contributor_id, now - dt.timedelta(seconds=age), _node()) for age in ages_seconds]
    )
    scene.db.call(store_samples, batch)


def test_task_samples_are_stored_with_their_job_and_input_for_the_running_attempt(
    scene: Scene,
) -> None:
    owner = scene.consumer()
    machine = scene.contributor()
    job_id = scene.submit(owner, [b"a", b"b"])
    scene.claimed(machine)
    second = scene.claimed(machine)
    buffer = SampleBuffer()
    buffer.add_tasks(machine, [TaskReading(second.attempt_id, 97.5, 42 * 1024 * 1024)])
    assert scene.db.call(store_samples, buffer.take()) == 1
    [stored] = scene.db.call(task_samples, owner, job_id, 0, 0)
    assert (stored.task_index, stored.attempt_id) == (1, second.attempt_id)
    assert (stored.cpu_percent, stored.memory_bytes) == (97.5, 42 * 1024 * 1024)
    assert scene.db.call(task_samples, owner, job_id, stored.id, 0) == []  # after the cursor


def test_task_samples_of_attempts_not_running_for_their_sender_are_dropped(scene: Scene) -> None:
    owner = scene.consumer()
    machine, other = scene.contributor(), scene.contributor("other")
    job_id = scene.submit(owner, [b"a", b"b"])
    finished = scene.claimed(machine)
    running = scene.claimed(machine)
    scene.report(machine, finished.attempt_id)
    batch = SampleBatch(
        tasks=[
            (machine, utcnow(), TaskReading(finished.attempt_id, 50.0, 1)),  # settled
            (other, utcnow(), TaskReading(running.attempt_id, 50.0, 2)),  # not its attempt
            (machine, utcnow(), TaskReading(running.attempt_id, 50.0, 3)),  # kept
        ]
    )
    assert scene.db.call(store_samples, batch) == 1
    assert [s.memory_bytes for s in scene.db.call(task_samples, owner, job_id, 0, 0)] == [3]


def test_a_consumer_cannot_read_another_consumers_task_samples(scene: Scene) -> None:
    owner, stranger = scene.consumer(), scene.consumer("stranger")
    machine = scene.contributor()
    job_id = scene.submit(owner)
    claimed = scene.claimed(machine)
    batch = SampleBatch(tasks=[(machine, utcnow(), TaskReading(claimed.attempt_id, 10.0, 5))])
    scene.db.call(store_samples, batch)
    assert len(scene.db.call(task_samples, owner, job_id, 0, 0)) == 1
    with pytest.raises(NotFound):
        scene.db.call(task_samples, stranger, job_id, 0, 0)
    with pytest.raises(NotFound):
        scene.db.call(finished_outputs, stranger, job_id, None, 0, 0, 1024)


def test_contributors_latest_node_sample_is_the_one_listed(scene: Scene) -> None:
    machine = scene.contributor()
    scene.db.call(store_samples, SampleBatch(nodes=[(machine, utcnow(), _node(1.0))]))
    scene.db.call(store_samples, SampleBatch(nodes=[(machine, utcnow(), _node(2.5))]))
    assert scene.db.call(latest_node_readings)[machine].load_1m == 2.5


def test_prune_keeps_only_the_newest_rows_of_each_table(scene: Scene) -> None:
    machine = scene.contributor()
    _store_nodes(scene, machine, [5.0, 4.0, 3.0, 2.0, 1.0])
    owner = scene.consumer()
    scene.submit(owner)
    claimed = scene.claimed(machine)
    scene.db.call(
        store_samples,
        SampleBatch(
            tasks=[(machine, utcnow(), TaskReading(claimed.attempt_id, 1.0, i)) for i in range(4)]
        ),
    )
    deleted = scene.db.call(prune_samples, SampleRetention(rows=3, seconds=3600))
    assert deleted == 2 + 1
    assert _count(scene, NodeSample) == 3 and _count(scene, TaskSample) == 3
    kept = scene.db.call(lambda s: sorted(s.scalars(select(TaskSample.memory_bytes)).all()))
    assert kept == [1, 2, 3]  # the newest


def test_prune_deletes_samples_older_than_the_retention_age(scene: Scene) -> None:
    machine = scene.contributor()
    _store_nodes(scene, machine, [700.0, 650.0, 100.0, 1.0])
    deleted = scene.db.call(prune_samples, SampleRetention(rows=1000, seconds=600))
    assert deleted == 2
    ages = scene.db.call(lambda s: s.scalars(select(NodeSample.at)).all())
    assert all(utcnow() - at < dt.timedelta(seconds=600) for at in ages) and len(ages) == 2


def test_finished_outputs_follow_a_cursor_through_inputs_finishing_at_once(scene: Scene) -> None:
    owner = scene.consumer()
    machine = scene.contributor()
    job_id = scene.submit(owner, [b"a", b"b", b"c", b"d"])
    first = scene.claimed(machine)
    scene.report(machine, first.attempt_id)
    scene.db.call(jobs.cancel_job, owner, job_id)  # b, c, d finish in one instant
    cancelled = {scene.task(job_id, i).finished_at for i in (1, 2, 3)}
    assert len(cancelled) == 1  # a tie the cursor must break by index
    seen: list[int] = []
    since, after = None, 0
    for _ in range(10):
        page = scene.db.call(finished_outputs, owner, job_id, since, after, 2, 1024)
        if not page:
            break
        seen += [p.index for p in page]
        since, after = page[-1].finished_at, page[-1].index
    assert seen == [0, 1, 2, 3]
    assert b"log line" in scene.db.call(finished_outputs, owner, job_id, None, 0, 1, 1024)[0].logs


def test_buffer_keeps_the_latest_sample_of_each_contributor_and_attempt_per_round() -> None:
    buffer = SampleBuffer()
    for load in (1.0, 2.0, 3.0):  # an agent sending faster than the writer stores
        buffer.add_node("m", _node(load))
    buffer.add_node("n", _node(9.0))
    buffer.add_tasks("m", [TaskReading(1, 10.0, 1), TaskReading(2, 20.0, 2)])
    buffer.add_tasks("m", [TaskReading(1, 30.0, 3)])
    batch = buffer.take()
    assert sorted((c, r.load_1m) for c, _, r in batch.nodes) == [("m", 3.0), ("n", 9.0)]
    assert sorted((r.attempt_id, r.memory_bytes) for _, _, r in batch.tasks) == [(1, 3), (2, 2)]
    assert not buffer.take()


def test_buffer_drops_and_counts_samples_beyond_its_limit() -> None:
    buffer = SampleBuffer(limit=2)
    for contributor in ("a", "b", "c"):
        buffer.add_node(contributor, _node())
    buffer.add_node("a", _node(5.0))  # a known key is replaced, not dropped
    buffer.add_tasks("a", [TaskReading(attempt, 1.0, 1) for attempt in (1, 2, 3)])
    batch = buffer.take()
    assert sorted(c for c, _, _ in batch.nodes) == ["a", "b"]
    assert sorted(r.attempt_id for _, _, r in batch.tasks) == [1, 2]
    assert buffer.dropped == 2
