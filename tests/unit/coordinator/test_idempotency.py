"""Idempotent submission: the same key from the same consumer returns the first job."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence

import pytest
from sqlalchemy import func, select

from runsurge.coordinator.job_options import JobOptions
from runsurge.coordinator.submission import (
    InputEnd,
    InputStart,
    JobSpecIn,
    Submission,
    SubmissionItem,
)
from runsurge.errors import Conflict
from runsurge.kinds import JobKind
from runsurge.store.models import Job, Task
from runsurge.store.states import JobState
from tests.unit.coordinator.scene import SCRIPT, Scene
from tests.unit.coordinator.submitting import LIMITS, receive

OTHER_SCRIPT = b"def process(input_data):\n    return {'other': True}\n"


def _items(
    key: str, inputs: Sequence[bytes], script: bytes = SCRIPT, kind: JobKind = JobKind.GROUP
) -> list[SubmissionItem]:
    spec = JobSpecIn(
        script=script,
        kind=kind,
        name="idempotent",
        script_name="s.py",
        job_options=JobOptions(idempotency_key=key),
    )
    items: list[SubmissionItem] = [spec]
    for data in inputs:
        items += [InputStart(len(data)), data, InputEnd(hashlib.sha256(data).hexdigest())]
    return items


def _counts(scene: Scene) -> tuple[int, int]:
    return scene.db.call(
        lambda s: (
            s.scalar(select(func.count()).select_from(Job)) or 0,
            s.scalar(select(func.count()).select_from(Task)) or 0,
        )
    )


def test_resubmitting_with_the_same_key_returns_the_first_job_and_creates_nothing(
    scene: Scene,
) -> None:
    consumer = scene.consumer()
    first = receive(scene, consumer, _items("k1", [b"a", b"b"]))
    before = _counts(scene)

    again = receive(scene, consumer, _items("k1", [b"a", b"b"]))

    assert again == first
    assert _counts(scene) == before == (1, 2)
    assert scene.job(first).state is JobState.QUEUED


def test_same_key_with_a_different_script_is_refused_naming_the_job(scene: Scene) -> None:
    consumer = scene.consumer()
    first = receive(scene, consumer, _items("k1", [b"a"]))

    with pytest.raises(Conflict, match=f"used for job {first} with a different script"):
        receive(scene, consumer, _items("k1", [b"a"], script=OTHER_SCRIPT))

    assert _counts(scene) == (1, 1)
    assert scene.job(first).state is JobState.QUEUED  # the refused retry left it alone


def test_same_key_with_a_different_number_of_inputs_is_refused(scene: Scene) -> None:
    consumer = scene.consumer()
    first = receive(scene, consumer, _items("k1", [b"a", b"b"]))

    with pytest.raises(Conflict, match=f"job {first} with 2 input\\(s\\), not 3"):
        receive(scene, consumer, _items("k1", [b"a", b"b", b"c"]))

    assert _counts(scene) == (1, 2)
    assert scene.job(first).state is JobState.QUEUED


def test_same_key_for_a_single_job_instead_of_a_group_is_refused(scene: Scene) -> None:
    consumer = scene.consumer()
    first = receive(scene, consumer, _items("k1", [b"a"]))

    with pytest.raises(Conflict, match=f"job {first}, a group job, not a single one"):
        receive(scene, consumer, _items("k1", [b"a"], kind=JobKind.SINGLE))


def test_another_consumers_key_neither_collides_nor_returns_its_job(scene: Scene) -> None:
    alice, bob = scene.consumer("alice"), scene.consumer("bob")
    alices = receive(scene, alice, _items("shared", [b"a"]))

    bobs = receive(scene, bob, _items("shared", [b"a"]))

    assert bobs != alices
    assert scene.job(bobs).consumer_id == bob and scene.job(alices).consumer_id == alice


def test_submissions_without_a_key_are_never_deduplicated(scene: Scene) -> None:
    consumer = scene.consumer()

    first = receive(scene, consumer, _items("", [b"a"]))
    second = receive(scene, consumer, _items("", [b"a"]))

    assert first != second and _counts(scene) == (2, 2)


def test_a_broken_upload_frees_its_key_so_the_retry_creates_the_job(scene: Scene) -> None:
    consumer = scene.consumer()
    broken = [*_items("k1", [b"a"])[:2], ConnectionResetError("network went away")]
    with pytest.raises(ConnectionResetError):
        receive(scene, consumer, broken)

    retried = receive(scene, consumer, _items("k1", [b"a"]))

    assert scene.job(retried).state is JobState.QUEUED
    assert scene.job(retried).idempotency_key == "k1"
    assert _counts(scene)[0] == 2  # the failed first upload, and the retry's job


def test_a_retry_while_the_first_upload_is_still_running_is_refused(scene: Scene) -> None:
    consumer = scene.consumer()
    spec = _items("k1", [b"a"])[0]
    assert isinstance(spec, JobSpecIn)
    first = Submission(scene.db, scene.blobs, None, consumer, LIMITS)
    asyncio.run(first.start(spec))  # the first upload has its job, inputs still coming

    with pytest.raises(Conflict, match="still being uploaded by the first submission"):
        receive(scene, consumer, _items("k1", [b"a"]))

    assert first.job_id is not None and scene.job(first.job_id).state is JobState.SUBMITTING
