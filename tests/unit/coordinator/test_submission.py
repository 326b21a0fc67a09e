"""Receiving a job: a whole stream queues it; any break fails it, and nothing of it runs."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from runsurge.coordinator import jobs
from runsurge.coordinator.submission import (
    InputEnd,
    InputStart,
    JobSpecIn,
    SubmissionItem,
)
from runsurge.errors import InvalidInput, InvalidRequest, LimitExceeded
from runsurge.kinds import JobKind
from runsurge.store.models import Job
from runsurge.store.states import JobState
from tests.unit.coordinator.scene import SCRIPT, MiB, Scene
from tests.unit.coordinator.submitting import receive


def _spec(kind: JobKind = JobKind.GROUP, script: bytes = SCRIPT) -> JobSpecIn:
    return JobSpecIn(script=script, kind=kind, name="test", script_name="s.py")


def _input(data: bytes, chunk: int = 100) -> list[SubmissionItem]:
    pieces: list[SubmissionItem] = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    return [InputStart(len(data)), *pieces, InputEnd(hashlib.sha256(data).hexdigest())]


def _only_job(scene: Scene, consumer: str) -> Job:
    (job,) = scene.db.call(
        lambda s: list(s.scalars(select(Job).where(Job.consumer_id == consumer)).all())
    )
    return job


def test_whole_stream_queues_the_job_with_one_task_per_input_in_order(scene: Scene) -> None:
    consumer = scene.consumer()

    job_id = receive(scene, consumer, [_spec(), *_input(b"first " * 50), *_input(b"second")])

    job = scene.job(job_id)
    assert job.state is JobState.QUEUED and job.task_count == 2 and job.queued_count == 2
    assert scene.blobs.read(scene.task(job_id, 0).input_sha256) == b"first " * 50
    assert scene.blobs.read(scene.task(job_id, 1).input_sha256) == b"second"
    assert scene.task(job_id, 1).memory_reservation_bytes == 256 * MiB


def test_stream_broken_mid_input_fails_the_job_and_none_of_it_runs(scene: Scene) -> None:
    consumer = scene.consumer()
    items = [_spec(), *_input(b"complete"), InputStart(0), b"half an inp"]

    with pytest.raises(ConnectionResetError):
        receive(scene, consumer, [*items, ConnectionResetError("consumer went away")])

    job = _only_job(scene, consumer)
    assert job.state is JobState.FAILED and job.error_kind == "SUBMISSION"
    assert "consumer went away" in job.error_message
    assert scene.claim(scene.contributor()) is None


def test_input_declared_over_the_limit_fails_the_job_naming_the_input(scene: Scene) -> None:
    consumer = scene.consumer()

    with pytest.raises(
        LimitExceeded, match=r"input 1 is 1025 bytes; the limit is 1024 \(max_input_bytes\)"
    ):
        receive(scene, consumer, [_spec(), *_input(b"ok"), *_input(b"z" * 1025)])

    assert _only_job(scene, consumer).state is JobState.FAILED


def test_undeclared_input_is_stopped_as_it_crosses_the_limit(scene: Scene) -> None:
    consumer = scene.consumer()
    streamed = [InputStart(0), b"z" * 1000, b"z" * 25]

    with pytest.raises(LimitExceeded, match="input 0 is larger than the limit of 1024 bytes"):
        receive(scene, consumer, [_spec(), *streamed])

    assert _only_job(scene, consumer).state is JobState.FAILED


def test_input_that_is_not_utf8_fails_the_job(scene: Scene) -> None:
    consumer = scene.consumer()

    with pytest.raises(InvalidInput, match="not valid UTF-8"):
        receive(scene, consumer, [_spec(), *_input(b"\xff\xfe")])

    assert _only_job(scene, consumer).state is JobState.FAILED


def test_single_job_takes_exactly_one_input(scene: Scene) -> None:
    consumer = scene.consumer()

    with pytest.raises(InvalidRequest, match="exactly one input"):
        receive(scene, consumer, [_spec(JobKind.SINGLE), *_input(b"a"), *_input(b"b")])


def test_refused_script_leaves_no_job(scene: Scene) -> None:
    consumer = scene.consumer()

    with pytest.raises(InvalidRequest):
        receive(scene, consumer, [_spec(script=b"def other():\n    pass\n"), *_input(b"a")])

    assert scene.db.call(lambda s: s.scalar(select(Job).where(Job.consumer_id == consumer))) is None


def test_listing_is_newest_first_and_bounded(scene: Scene) -> None:
    consumer = scene.consumer()
    ids = [scene.submit(consumer) for _ in range(3)]

    listed = scene.db.call(jobs.list_jobs, consumer, 2, scene.blobs, 1024)
    default = scene.db.call(jobs.list_jobs, consumer, 0, scene.blobs, 1024)

    assert [v.id for v in listed] == ids[::-1][:2]
    assert [v.id for v in default] == ids[::-1]


def test_listing_filters_by_state_and_by_name_ignoring_case(scene: Scene) -> None:
    consumer = scene.consumer()
    done, waiting = scene.submit(consumer), scene.submit(consumer)
    machine = scene.contributor()
    attempt = scene.claimed(machine)
    assert attempt.job_id == done
    scene.report(machine, attempt.attempt_id)

    def listed(states: tuple[str, ...] = (), name: str = "") -> list[str]:
        views = scene.db.call(jobs.list_jobs, consumer, 0, scene.blobs, 1024, states, name)
        return [v.id for v in views]

    assert listed(("succeeded",)) == [done]
    assert listed(("QUEUED", "SUCCEEDED")) == [waiting, done]
    assert listed(name="TEST J") == [waiting, done]  # every scene job is "test job"
    assert listed(name="100%_") == []  # LIKE's wildcards are matched literally
    with pytest.raises(InvalidRequest, match="unknown job state 'DONE'; the states are"):
        listed(("DONE",))
