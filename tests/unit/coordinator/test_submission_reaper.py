"""Submissions whose upload never finished are failed after the submission timeout;
uploads still receiving data, and sealed jobs, are left alone."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.orm import Session

from runsurge.coordinator import jobs
from runsurge.coordinator.submission import (
    InputEnd,
    InputStart,
    JobSpecIn,
    Submission,
    SubmissionLimits,
)
from runsurge.coordinator.submission_reaper import reap_abandoned
from runsurge.errors import Conflict
from runsurge.kinds import JobKind
from runsurge.store.blobs import BlobRef
from runsurge.store.models import Job, utcnow
from runsurge.store.states import JobState
from tests.unit.coordinator.scene import SCRIPT, MiB, Scene

TIMEOUT = 60.0


def _open_job(scene: Scene, consumer: str) -> str:
    """A job left SUBMITTING, as a client cut off mid-upload leaves it."""
    return scene.db.call(
        lambda s: jobs.create_job(
            s,
            consumer,
            kind=JobKind.GROUP,
            name="upload",
            script_sha256=scene.blobs.put(SCRIPT).sha256,
            script_name="s.py",
        )
    )


def _age(scene: Scene, job_id: str, seconds: float) -> None:
    def move(session: Session) -> None:
        job = session.get(Job, job_id)
        assert job is not None and job.submission_activity_at is not None
        job.created_at -= dt.timedelta(seconds=seconds)
        job.submission_activity_at -= dt.timedelta(seconds=seconds)

    scene.db.call(move)


def test_an_upload_silent_past_the_timeout_fails_as_submission(scene: Scene) -> None:
    consumer = scene.consumer()
    silent, recent = _open_job(scene, consumer), _open_job(scene, consumer)
    sealed = scene.submit(consumer)
    _age(scene, silent, TIMEOUT + 1)
    _age(scene, sealed, TIMEOUT + 1)

    assert scene.db.call(reap_abandoned, TIMEOUT) == [silent]

    job = scene.job(silent)
    assert (job.state, job.error_kind) == (JobState.FAILED, "SUBMISSION")
    assert "upload never finished" in job.error_message and job.finished_at is not None
    assert scene.job(recent).state is JobState.SUBMITTING
    assert scene.job(sealed).state is JobState.QUEUED
    assert scene.db.call(reap_abandoned, TIMEOUT) == []  # once


def test_an_old_upload_that_still_receives_batches_is_not_reaped(scene: Scene) -> None:
    consumer = scene.consumer()
    job_id = _open_job(scene, consumer)
    _age(scene, job_id, 10 * TIMEOUT)  # opened long ago…
    scene.db.call(jobs.add_tasks, job_id, 0, [scene.blobs.put(b"x")], 256 * MiB)  # …still going

    assert scene.db.call(reap_abandoned, TIMEOUT) == []
    later = utcnow() + dt.timedelta(seconds=TIMEOUT + 1)
    assert scene.db.call(reap_abandoned, TIMEOUT, later) == [job_id]


def test_a_reaped_upload_takes_no_more_input(scene: Scene) -> None:
    job_id = _open_job(scene, scene.consumer())
    _age(scene, job_id, TIMEOUT + 1)
    scene.db.call(reap_abandoned, TIMEOUT)

    ref = BlobRef(hashlib.sha256(b"x").hexdigest(), 1)
    with pytest.raises(Conflict, match="never finished"):
        scene.db.call(jobs.add_tasks, job_id, 0, [ref], 256 * MiB)
    with pytest.raises(Conflict):
        scene.db.call(jobs.touch_submission, job_id)
    assert scene.job(job_id).task_count == 0


def test_a_flowing_upload_records_its_activity_between_batches(scene: Scene) -> None:
    consumer = scene.consumer()
    limits = SubmissionLimits(
        max_script_bytes=64 * 1024,
        max_input_bytes=1024,
        memory_reservation_bytes=256 * MiB,
        activity_seconds=0.05,
    )
    seen: list[dt.datetime | None] = []

    async def stream() -> AsyncIterator[object]:
        yield JobSpecIn(script=SCRIPT, kind=JobKind.GROUP, name="slow", script_name="s.py")
        for n in range(3):
            data = f"input {n}".encode()
            yield InputStart(len(data))
            yield data
            yield InputEnd(hashlib.sha256(data).hexdigest())
            await asyncio.sleep(0.1)
            job_ids = scene.db.call(lambda s: [j.id for j in s.query(Job).all()])
            seen.append(scene.job(job_ids[0]).submission_activity_at)

    submission = Submission(scene.db, scene.blobs, None, consumer, limits)
    asyncio.run(submission.receive(stream()))  # type: ignore[arg-type]

    assert all(seen) and seen == sorted(seen) and len(set(seen)) == len(seen)
