"""Claiming tasks and recording reports: a result is recorded once, and only if sound."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

import pytest

from runsurge.coordinator.attempts import INPUT_INLINE_LIMIT, Settlement, finish_attempt
from runsurge.coordinator.liveness import lose_attempt
from runsurge.coordinator.results import store_result
from runsurge.coordinator.usage import WALL_SLACK_SECONDS, memory_slack
from runsurge.coordinator.views import ErrorView, FinishedAttempt
from runsurge.errors import InvalidRequest
from runsurge.kinds import OutcomeKind
from runsurge.store.models import utcnow
from runsurge.store.states import AttemptState, JobState, TaskState
from tests.unit.coordinator.scene import RESULT, GiB, MiB, Scene


def test_claim_starts_an_attempt_with_a_lease_and_runs_the_job(scene: Scene) -> None:
    job_id = scene.submit(scene.consumer(), [b"hello"])
    machine = scene.contributor()

    before = utcnow()
    assignment = scene.claimed(machine)

    attempt = scene.attempt(assignment.attempt_id)
    assert attempt.state is AttemptState.RUNNING and attempt.contributor_id == machine
    lease = attempt.lease_expires_at - before
    assert dt.timedelta(seconds=scene.lease_seconds - 5) < lease
    assert lease < dt.timedelta(seconds=scene.lease_seconds + 5)
    task = scene.task(job_id, 0)
    assert task.state is TaskState.RUNNING and task.attempt_count == 1
    job = scene.job(job_id)
    assert job.state is JobState.RUNNING and (job.queued_count, job.running_count) == (0, 1)
    assert assignment.job_id == job_id and assignment.task_index == 0
    assert assignment.memory_bytes == 512 * MiB and assignment.input_inline == b"hello"


def test_claim_returns_nothing_when_nothing_is_queued(scene: Scene) -> None:
    machine = scene.contributor()
    assert scene.claim(machine) is None
    scene.submit(scene.consumer(), [b"only"])
    scene.claimed(machine)
    assert scene.claim(machine) is None


def test_claim_skips_task_larger_than_free_memory(scene: Scene) -> None:
    job_id = scene.submit(scene.consumer(), [b"x"], reservation=512 * MiB)
    machine = scene.contributor()

    assert scene.claim(machine, free=512 * MiB - 1) is None
    assert scene.task(job_id, 0).state is TaskState.QUEUED
    assert scene.claim(machine, free=512 * MiB) is not None


def test_claim_inlines_only_small_inputs(scene: Scene) -> None:
    big = b"b" * (INPUT_INLINE_LIMIT + 1)
    scene.submit(scene.consumer(), [b"small", big])
    machine = scene.contributor(cores=2)

    first, second = scene.claimed(machine), scene.claimed(machine)

    assert first.input_inline == b"small"
    assert second.input_inline is None and second.input_size == len(big)


def test_ok_report_records_the_result_and_usage_and_finishes_a_single_job(
    scene: Scene,
) -> None:
    job_id = scene.submit(scene.consumer())
    machine = scene.contributor()
    assignment = scene.claimed(machine)

    settlement = scene.report(machine, assignment.attempt_id)

    assert settlement.job_id == job_id and settlement.cancel == []
    task = scene.task(job_id, 0)
    assert task.state is TaskState.SUCCEEDED
    assert scene.blobs.read(task.result_sha256 or "") == RESULT
    attempt = scene.attempt(assignment.attempt_id)
    assert attempt.state is AttemptState.SUCCEEDED and attempt.outcome is OutcomeKind.OK
    assert (attempt.wall_seconds, attempt.peak_memory_bytes) == (1.5, 10 * MiB)
    assert task.logs == b"log line\n"
    job = scene.job(job_id)
    assert job.state is JobState.SUCCEEDED and job.finished_at is not None


def test_uploaded_result_is_recorded_by_its_hash(scene: Scene) -> None:
    job_id = scene.submit(scene.consumer())
    machine = scene.contributor()
    assignment = scene.claimed(machine)
    ref = scene.blobs.put(b'{"big": "' + b"r" * 100_000 + b'"}')

    scene.report(machine, assignment.attempt_id, result=None, result_sha256=ref.sha256)

    task = scene.task(job_id, 0)
    assert (task.result_sha256, task.result_size) == (ref.sha256, ref.size)


def test_late_report_after_loss_does_not_change_result(scene: Scene) -> None:
    job_id = scene.submit(scene.consumer())
    first, second = scene.contributor("first"), scene.contributor("second")
    lost = scene.claimed(first)
    scene.db.call(lose_attempt, lost.attempt_id, scene.limits, "test: silence")
    retry = scene.claimed(second)
    assert retry.attempt_id != lost.attempt_id

    late = scene.report(first, lost.attempt_id, result=b'{"from": "the lost attempt"}')

    assert late.job_id is None  # nothing changed
    assert scene.attempt(lost.attempt_id).state is AttemptState.LOST
    assert scene.task(job_id, 0).state is TaskState.RUNNING
    scene.report(second, retry.attempt_id, result=b'{"from": "the retry"}')
    task = scene.task(job_id, 0)
    assert scene.blobs.read(task.result_sha256 or "") == b'{"from": "the retry"}'
    assert scene.job(job_id).state is JobState.SUCCEEDED


def test_second_report_of_the_same_attempt_is_ignored(scene: Scene) -> None:
    job_id = scene.submit(scene.consumer())
    machine = scene.contributor()
    assignment = scene.claimed(machine)
    scene.report(machine, assignment.attempt_id, result=b'{"first": 1}')

    again = scene.report(machine, assignment.attempt_id, OutcomeKind.SCRIPT_ERROR)

    assert again.job_id is None
    task = scene.task(job_id, 0)
    assert task.state is TaskState.SUCCEEDED
    assert scene.blobs.read(task.result_sha256 or "") == b'{"first": 1}'


def test_report_about_another_contributors_attempt_is_refused(scene: Scene) -> None:
    job_id = scene.submit(scene.consumer())
    owner, other = scene.contributor("owner"), scene.contributor("other")
    assignment = scene.claimed(owner)

    with pytest.raises(InvalidRequest, match="not assigned to you"):
        scene.report(other, assignment.attempt_id)

    assert scene.task(job_id, 0).state is TaskState.RUNNING


@pytest.mark.parametrize(
    "result",
    [
        b"[1, 2]",
        b"not json",
        b"\xff\xfe",
        b"",
        b'{"a": NaN}',
        b'{"a": 1e999}',
        b'{"a": 1, "a": 2}',
        b'{"a": "\\udc00"}',
        b'{"a":' + b"[" * 300 + b"]" * 300 + b"}",
    ],
)
def test_result_that_is_not_a_strict_json_object_is_refused_and_changes_nothing(
    scene: Scene, result: bytes
) -> None:
    job_id = scene.submit(scene.consumer())
    machine = scene.contributor()
    assignment = scene.claimed(machine)

    with pytest.raises(InvalidRequest, match="not strict JSON of an object"):
        scene.report(machine, assignment.attempt_id, result=result)

    assert scene.attempt(assignment.attempt_id).state is AttemptState.RUNNING
    assert scene.task(job_id, 0).state is TaskState.RUNNING


def test_ok_without_any_stored_result_is_refused(scene: Scene) -> None:
    scene.submit(scene.consumer())
    machine = scene.contributor()
    assignment = scene.claimed(machine)

    with pytest.raises(InvalidRequest, match="without a stored result"):
        scene.report(machine, assignment.attempt_id, result=None, result_sha256="0" * 64)


def test_script_error_fails_the_task_for_good_with_the_consumers_error(scene: Scene) -> None:
    job_id = scene.submit(scene.consumer())
    machine = scene.contributor()
    assignment = scene.claimed(machine)
    error = ErrorView("SCRIPT_ERROR", "ValueError", "bad input", "Traceback ...")

    scene.report(machine, assignment.attempt_id, OutcomeKind.SCRIPT_ERROR, error=error)

    task = scene.task(job_id, 0)
    assert task.state is TaskState.FAILED
    assert (task.error_kind, task.error_type, task.error_message) == (
        "SCRIPT_ERROR",
        "ValueError",
        "bad input",
    )
    assert scene.attempt(assignment.attempt_id).state is AttemptState.FAILED
    assert scene.job(job_id).state is JobState.FAILED
    assert scene.claim(machine) is None


def test_out_of_memory_requeues_the_task_with_twice_the_reservation(scene: Scene) -> None:
    job_id = scene.submit(scene.consumer(), reservation=512 * MiB)
    machine = scene.contributor(memory=4 * GiB)
    first = scene.claimed(machine)

    scene.report(machine, first.attempt_id, OutcomeKind.OUT_OF_MEMORY)

    task = scene.task(job_id, 0)
    assert task.state is TaskState.QUEUED and task.memory_reservation_bytes == 1 * GiB
    assert scene.claim(machine, free=1 * GiB - 1) is None
    second = scene.claimed(machine, free=1 * GiB)
    assert second.memory_bytes == 1 * GiB
    assert scene.attempt(first.attempt_id).memory_reservation_bytes == 512 * MiB


def test_agent_cancelling_on_its_own_requeues_the_task(scene: Scene) -> None:
    job_id = scene.submit(scene.consumer())
    machine = scene.contributor()
    assignment = scene.claimed(machine)

    scene.report(machine, assignment.attempt_id, OutcomeKind.CANCELLED)

    assert scene.attempt(assignment.attempt_id).state is AttemptState.CANCELLED
    assert scene.task(job_id, 0).state is TaskState.QUEUED


def test_platform_failures_stop_being_retried_after_max_attempts(scene: Scene) -> None:
    job_id = scene.submit(scene.consumer())
    machine = scene.contributor()

    for _ in range(scene.limits.max_attempts):
        scene.report(machine, scene.claimed(machine).attempt_id, OutcomeKind.INFRASTRUCTURE)

    task = scene.task(job_id, 0)
    assert task.state is TaskState.FAILED and task.attempt_count == scene.limits.max_attempts
    assert task.error_kind == "INFRASTRUCTURE"
    assert scene.job(job_id).state is JobState.FAILED
    assert scene.claim(machine) is None


def _report_usage(
    scene: Scene,
    machine: str,
    attempt_id: int,
    *,
    wall: float = 1.5,
    cpu: float = 1.0,
    peak: int = 10 * MiB,
    average: int = 5 * MiB,
) -> Settlement:
    report = FinishedAttempt(
        attempt_id=attempt_id,
        outcome=OutcomeKind.OK,
        result_json=RESULT,
        wall_seconds=wall,
        cpu_seconds=cpu,
        peak_memory_bytes=peak,
        average_memory_bytes=average,
        memory_source="cgroup",
    )
    result = store_result(report, scene.blobs)
    return scene.db.call(finish_attempt, machine, report, result, scene.limits)


def _usage(scene: Scene, attempt_id: int) -> tuple[float, float, int, int, str]:
    a = scene.attempt(attempt_id)
    return (
        a.wall_seconds,
        a.cpu_seconds,
        a.peak_memory_bytes,
        a.average_memory_bytes,
        a.memory_source,
    )


def test_usage_is_written_once_by_the_report_that_settles_the_attempt(scene: Scene) -> None:
    scene.submit(scene.consumer())
    machine = scene.contributor()
    assignment = scene.claimed(machine)
    scene.backdate(assignment.attempt_id, 60)
    _report_usage(scene, machine, assignment.attempt_id, wall=2.0, peak=20 * MiB)

    _report_usage(scene, machine, assignment.attempt_id, wall=50.0, peak=30 * MiB, cpu=40.0)

    assert _usage(scene, assignment.attempt_id) == (2.0, 1.0, 20 * MiB, 5 * MiB, "cgroup")


def test_late_report_of_a_lost_attempt_writes_no_usage(scene: Scene) -> None:
    scene.submit(scene.consumer())
    machine = scene.contributor()
    lost = scene.claimed(machine)
    scene.backdate(lost.attempt_id, 60)
    scene.db.call(lose_attempt, lost.attempt_id, scene.limits, "test: silence")

    _report_usage(scene, machine, lost.attempt_id, wall=30.0, peak=20 * MiB)

    assert _usage(scene, lost.attempt_id)[:4] == (0.0, 0.0, 0, 0)


def test_impossible_usage_is_clamped_to_the_attempts_limits_and_lease_window(
    scene: Scene,
) -> None:
    scene.submit(scene.consumer(), [b"a", b"b", b"c"])
    machine = scene.contributor(cores=3)
    liar, nan, inverted = (scene.claimed(machine) for _ in range(3))
    for assignment in (liar, nan, inverted):
        scene.backdate(assignment.attempt_id, 60)
    limit = scene.attempt(liar.attempt_id).policy_memory_bytes
    cpu_limit = scene.attempt(liar.attempt_id).policy_cpu_seconds

    _report_usage(
        scene, machine, liar.attempt_id, wall=10_000.0, cpu=1e9, peak=100 * limit, average=limit
    )
    _report_usage(scene, machine, nan.attempt_id, wall=math.nan, cpu=-3.0)
    _report_usage(scene, machine, inverted.attempt_id, wall=math.inf, peak=MiB, average=9 * MiB)

    wall, cpu, peak, average, source = _usage(scene, liar.attempt_id)
    assert 60 <= wall <= 60 + WALL_SLACK_SECONDS + 5  # started a minute ago, and now
    assert cpu == cpu_limit + WALL_SLACK_SECONDS
    assert peak == limit + memory_slack(limit) and average == limit
    assert source == "cgroup clamped"
    assert _usage(scene, nan.attempt_id)[:2] == (0.0, 0.0)
    assert _usage(scene, inverted.attempt_id)[:4] == (0.0, 1.0, MiB, MiB)
    # The results themselves are recorded: a bad meter does not rerun good work.
    assert scene.attempt(liar.attempt_id).state is AttemptState.SUCCEEDED


def test_sane_usage_is_kept_as_reported(scene: Scene) -> None:
    scene.submit(scene.consumer())
    machine = scene.contributor()
    assignment = scene.claimed(machine)
    scene.backdate(assignment.attempt_id, 60)

    _report_usage(scene, machine, assignment.attempt_id, wall=59.0, peak=100 * MiB)

    assert _usage(scene, assignment.attempt_id) == (59.0, 1.0, 100 * MiB, 5 * MiB, "cgroup")


def test_a_retry_after_a_script_error_is_no_rerun_and_counts_as_a_requeue(scene: Scene) -> None:
    scene.limits = dataclasses.replace(scene.limits, max_attempts=3)
    scene.submit(scene.consumer())
    machine = scene.contributor()
    first = scene.claimed(machine)

    settled = scene.report(machine, first.attempt_id, OutcomeKind.OUT_OF_MEMORY, result=None)

    assert settled.requeued == 1
    again = scene.claimed(machine)
    assert not again.rerun  # it failed: nothing it did is done again
