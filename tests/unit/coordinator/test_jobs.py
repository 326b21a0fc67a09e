"""A job's state follows its tasks': counters, fail-fast, fan-in, cancellation, ownership."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Row, func, select, text
from sqlalchemy.orm import Session

from runsurge.coordinator import jobs
from runsurge.coordinator.jobs import GroupOptions
from runsurge.coordinator.views import ErrorView
from runsurge.errors import Conflict, NotFound
from runsurge.kinds import JobKind, OnError, OutcomeKind, TaskKind
from runsurge.store.models import Task
from runsurge.store.states import AttemptState, JobState, TaskState
from tests.unit.coordinator.scene import Scene

FAIL_FAST = GroupOptions(on_error=OnError.FAIL_FAST)


def _counters_match_tasks(scene: Scene, job_id: str) -> None:
    job = scene.job(job_id)
    rows = scene.db.call(
        lambda s: dict(
            s.execute(
                select(Task.state, func.count())
                .where(Task.job_id == job_id, Task.kind == TaskKind.PROCESS)
                .group_by(Task.state)
            ).all()
        )
    )
    assert job.queued_count == rows.get(TaskState.QUEUED, 0)
    assert job.running_count == rows.get(TaskState.RUNNING, 0)
    assert job.succeeded_count == rows.get(TaskState.SUCCEEDED, 0)
    assert job.failed_count == rows.get(TaskState.FAILED, 0)
    assert job.cancelled_count == rows.get(TaskState.CANCELLED, 0)


def test_sealed_job_is_queued_with_one_counted_task_per_input(scene: Scene) -> None:
    job_id = scene.submit(scene.consumer(), [b"a", b"b", b"c"])

    job = scene.job(job_id)
    assert job.state is JobState.QUEUED and job.task_count == 3 and job.queued_count == 3
    _counters_match_tasks(scene, job_id)


def test_counters_stay_exact_through_claims_retries_and_results(scene: Scene) -> None:
    job_id = scene.submit(scene.consumer(), [b"a", b"b", b"c", b"d"])
    machine = scene.contributor(cores=4)
    a, b, c = scene.claimed(machine), scene.claimed(machine), scene.claimed(machine)
    _counters_match_tasks(scene, job_id)

    scene.report(machine, a.attempt_id)
    scene.report(machine, b.attempt_id, OutcomeKind.SCRIPT_ERROR)
    scene.report(machine, c.attempt_id, OutcomeKind.INFRASTRUCTURE)
    _counters_match_tasks(scene, job_id)

    job = scene.job(job_id)
    assert (job.queued_count, job.running_count) == (2, 0)
    assert (job.succeeded_count, job.failed_count) == (1, 1)


def test_fail_fast_cancels_running_attempts(scene: Scene) -> None:
    job_id = scene.submit(scene.consumer(), [b"a", b"b", b"c"], options=FAIL_FAST)
    one, two = scene.contributor("one"), scene.contributor("two")
    failing, running = scene.claimed(one), scene.claimed(two)
    error = ErrorView("SCRIPT_ERROR", "KeyError", "'k'")

    settlement = scene.report(one, failing.attempt_id, OutcomeKind.SCRIPT_ERROR, error=error)

    assert settlement.cancel == [(running.attempt_id, two)]
    assert scene.attempt(running.attempt_id).state is AttemptState.CANCELLED
    assert scene.task(job_id, 1).state is TaskState.CANCELLED
    assert scene.task(job_id, 2).state is TaskState.CANCELLED  # never started
    job = scene.job(job_id)
    assert job.state is JobState.FAILED and job.error_kind == "FAIL_FAST"
    assert "input 0 failed (SCRIPT_ERROR: KeyError: 'k')" in job.error_message
    _counters_match_tasks(scene, job_id)


def test_continue_group_succeeds_despite_a_failed_input(scene: Scene) -> None:
    job_id = scene.submit(scene.consumer(), [b"a", b"b"])
    machine = scene.contributor(cores=2)
    ok, bad = scene.claimed(machine), scene.claimed(machine)

    scene.report(machine, bad.attempt_id, OutcomeKind.SCRIPT_ERROR)
    assert scene.job(job_id).state is JobState.RUNNING
    settlement = scene.report(machine, ok.attempt_id)

    assert settlement.cancel == []
    assert scene.job(job_id).state is JobState.SUCCEEDED


def test_group_whose_every_input_failed_fails_as_all_failed(scene: Scene) -> None:
    job_id = scene.submit(scene.consumer(), [b"a", b"b"])
    machine = scene.contributor(cores=2)
    for assignment in (scene.claimed(machine), scene.claimed(machine)):
        scene.report(machine, assignment.attempt_id, OutcomeKind.SCRIPT_ERROR)

    job = scene.job(job_id)
    assert job.state is JobState.FAILED and job.error_kind == "ALL_FAILED"


def test_group_with_an_aggregate_step_moves_to_aggregating_after_its_last_input(
    scene: Scene,
) -> None:
    options = GroupOptions(aggregate_specs=("n=sum",))
    job_id = scene.submit(scene.consumer(), [b"a", b"b"], options=options)
    machine = scene.contributor(cores=2)
    first, last = scene.claimed(machine), scene.claimed(machine)

    assert not scene.report(machine, first.attempt_id).aggregating
    settlement = scene.report(machine, last.attempt_id)

    assert settlement.aggregating
    assert scene.job(job_id).state is JobState.AGGREGATING


def test_empty_group_succeeds_when_sealed(scene: Scene) -> None:
    job_id = scene.submit(scene.consumer(), [], kind=JobKind.GROUP)

    assert scene.job(job_id).state is JobState.SUCCEEDED


def test_cancel_stops_queued_and_running_tasks_and_names_the_running_attempts(
    scene: Scene,
) -> None:
    consumer = scene.consumer()
    job_id = scene.submit(consumer, [b"a", b"b"])
    machine = scene.contributor()
    running = scene.claimed(machine)

    cancel = scene.db.call(jobs.cancel_job, consumer, job_id)

    assert cancel == [(running.attempt_id, machine)]
    assert scene.job(job_id).state is JobState.CANCELLED
    assert scene.attempt(running.attempt_id).state is AttemptState.CANCELLED
    assert {scene.task(job_id, i).state for i in (0, 1)} == {TaskState.CANCELLED}
    _counters_match_tasks(scene, job_id)
    # The agent's report arriving afterwards changes nothing.
    assert scene.report(machine, running.attempt_id).job_id is None
    assert scene.job(job_id).state is JobState.CANCELLED


def test_cancelling_a_finished_job_is_a_conflict(scene: Scene) -> None:
    consumer = scene.consumer()
    job_id = scene.submit(consumer)
    machine = scene.contributor()
    scene.report(machine, scene.claimed(machine).attempt_id)

    with pytest.raises(Conflict, match="already succeeded"):
        scene.db.call(jobs.cancel_job, consumer, job_id)


def test_another_consumers_job_is_reported_missing(scene: Scene) -> None:
    owner, stranger = scene.consumer("owner"), scene.consumer("stranger")
    job_id = scene.submit(owner)

    for call in (
        lambda s: jobs.job_view(s, stranger, job_id, scene.blobs, 1024),
        lambda s: jobs.cancel_job(s, stranger, job_id),
        lambda s: jobs.result_ref(s, stranger, job_id, 0),
        lambda s: jobs.task_results(s, stranger, job_id, 0, 10, scene.blobs),
    ):
        with pytest.raises(NotFound):
            scene.db.call(call)
    assert scene.job(job_id).state is JobState.QUEUED


def test_single_job_view_carries_its_result_inline_or_its_error(scene: Scene) -> None:
    consumer = scene.consumer()
    machine = scene.contributor(cores=2)
    good, bad = scene.submit(consumer, [b"good"]), scene.submit(consumer, [b"bad"])
    by_job = {a.job_id: a for a in (scene.claimed(machine), scene.claimed(machine))}
    scene.report(machine, by_job[good].attempt_id, result=b'{"v": 1}')
    error = ErrorView("SCRIPT_ERROR", "ValueError", "no", "tb")
    scene.report(machine, by_job[bad].attempt_id, OutcomeKind.SCRIPT_ERROR, error=error)

    good_view = scene.db.call(jobs.job_view, consumer, good, scene.blobs, 1024)
    bad_view = scene.db.call(jobs.job_view, consumer, bad, scene.blobs, 1024)
    small_limit = scene.db.call(jobs.job_view, consumer, good, scene.blobs, 2)

    assert good_view.result_json == b'{"v": 1}' and good_view.error is None
    assert bad_view.error == error and bad_view.result_json is None
    assert small_limit.result_json is None and small_limit.result_available


def test_task_results_list_inputs_in_order_from_a_start_index(scene: Scene) -> None:
    consumer = scene.consumer()
    job_id = scene.submit(consumer, [b"0", b"1", b"2"])
    machine = scene.contributor(cores=2)
    for _ in range(3):
        scene.report(machine, scene.claimed(machine).attempt_id)

    page = scene.db.call(jobs.task_results, consumer, job_id, 1, 10, scene.blobs)

    assert [(v.index, v.state) for v in page] == [(1, "SUCCEEDED"), (2, "SUCCEEDED")]
    sha = scene.db.call(jobs.result_ref, consumer, job_id, 2)
    assert scene.blobs.read(sha) == page[1].result_json


def test_aborted_submission_fails_the_job_and_cancels_its_tasks(scene: Scene) -> None:
    consumer = scene.consumer()
    script = scene.blobs.put(b"def process(x): return {}")
    job_id = scene.db.call(
        lambda s: jobs.create_job(
            s,
            consumer,
            kind=JobKind.GROUP,
            name="",
            script_sha256=script.sha256,
            script_name="s.py",
        )
    )
    scene.db.call(jobs.add_tasks, job_id, 0, [scene.blobs.put(b"in")], 1024)

    scene.db.call(jobs.abort_submission, job_id, "submission failed: stream broke")

    job = scene.job(job_id)
    assert job.state is JobState.FAILED and job.error_kind == "SUBMISSION"
    assert scene.task(job_id, 0).state is TaskState.CANCELLED
    assert scene.claim(scene.contributor()) is None


def test_kinds_are_stored_as_their_string_values(scene: Scene) -> None:
    job_id = scene.submit(scene.consumer(), [b"a", b"b"], options=FAIL_FAST)
    machine = scene.contributor()
    finished, running = scene.claimed(machine), scene.claimed(machine)
    scene.report(machine, finished.attempt_id)

    def raw(session: Session) -> tuple[Row[Any], list[Row[Any]], list[Row[Any]]]:
        job = session.execute(
            text("SELECT kind, on_error FROM jobs WHERE id = :id"), {"id": job_id}
        ).one()
        tasks = session.execute(text("SELECT DISTINCT kind FROM tasks")).all()
        attempts = session.execute(text("SELECT id, outcome FROM attempts ORDER BY id")).all()
        return job, list(tasks), list(attempts)

    job, tasks, attempts = scene.db.call(raw)
    assert tuple(job) == ("group", "fail-fast")
    assert [tuple(t) for t in tasks] == [("process",)]
    assert [tuple(a) for a in attempts] == [(finished.attempt_id, "OK"), (running.attempt_id, None)]


def test_task_logs_are_the_owners_to_read_by_input_index(scene: Scene) -> None:
    owner, stranger = scene.consumer("owner"), scene.consumer("stranger")
    job_id = scene.submit(owner, [b"a", b"b"])
    machine = scene.contributor()
    assert scene.db.call(jobs.task_logs, owner, job_id, 1).state == "QUEUED"

    scene.report(machine, scene.claimed(machine).attempt_id)  # logs=b"log line\n"

    logs = scene.db.call(jobs.task_logs, owner, job_id, 0)
    assert (logs.logs, logs.truncated, logs.state) == (b"log line\n", False, "SUCCEEDED")
    assert scene.db.call(jobs.task_logs, owner, job_id, 1).logs == b""
    for consumer, index in ((stranger, 0), (owner, 2), (owner, -1)):
        with pytest.raises(NotFound):
            scene.db.call(jobs.task_logs, consumer, job_id, index)


def test_task_logs_that_fill_the_kept_tail_are_reported_truncated(scene: Scene) -> None:
    from runsurge.coordinator.attempts import MAX_LOG_BYTES_KEPT

    owner = scene.consumer()
    job_id = scene.submit(owner)
    machine = scene.contributor()
    scene.report(machine, scene.claimed(machine).attempt_id)

    def long_logs(session: Session) -> None:
        task = session.scalar(select(Task).where(Task.job_id == job_id))
        assert task is not None
        task.logs = b"x" * MAX_LOG_BYTES_KEPT

    scene.db.call(long_logs)
    assert scene.db.call(jobs.task_logs, owner, job_id, 0).truncated
