"""Leases: heartbeats keep attempts alive; silence and forgetting requeue their tasks."""

from __future__ import annotations

from runsurge.coordinator.liveness import heartbeat, lapsed_attempts, lose_attempt
from runsurge.kinds import OutcomeKind
from runsurge.store.models import utcnow
from runsurge.store.states import AttemptState, JobState, TaskState
from tests.unit.coordinator.scene import Scene

GRACE = 6.0


def test_heartbeat_extends_only_the_leases_of_the_attempts_it_lists(scene: Scene) -> None:
    scene.submit(scene.consumer(), [b"a", b"b"])
    machine = scene.contributor(cores=2)
    listed, unlisted = scene.claimed(machine), scene.claimed(machine)
    scene.backdate(listed.attempt_id, 20)
    scene.backdate(unlisted.attempt_id, 20)
    old_unlisted = scene.attempt(unlisted.attempt_id).lease_expires_at

    scene.db.call(heartbeat, machine, [listed.attempt_id], 30.0, GRACE)

    assert scene.attempt(listed.attempt_id).lease_expires_at > utcnow()
    assert scene.attempt(unlisted.attempt_id).lease_expires_at == old_unlisted


def test_heartbeat_returns_running_attempts_the_agent_forgot_once_past_the_grace(
    scene: Scene,
) -> None:
    scene.submit(scene.consumer(), [b"a", b"b"])
    machine = scene.contributor(cores=2)
    old, fresh = scene.claimed(machine), scene.claimed(machine)
    scene.backdate(old.attempt_id, GRACE + 1)

    forgotten = scene.db.call(heartbeat, machine, [], 30.0, GRACE)

    # The fresh one may still be on the wire to the agent.
    assert forgotten == [old.attempt_id]
    assert fresh.attempt_id not in forgotten


def test_heartbeat_ignores_other_contributors_attempts(scene: Scene) -> None:
    scene.submit(scene.consumer())
    mine, theirs = scene.contributor("mine"), scene.contributor("theirs")
    assignment = scene.claimed(theirs)
    scene.backdate(assignment.attempt_id, 20)
    lease = scene.attempt(assignment.attempt_id).lease_expires_at

    forgotten = scene.db.call(heartbeat, mine, [assignment.attempt_id], 30.0, GRACE)

    assert forgotten == []
    assert scene.attempt(assignment.attempt_id).lease_expires_at == lease


def test_heartbeat_records_when_the_contributor_was_last_seen(scene: Scene) -> None:
    machine = scene.contributor()
    before = scene.contributor_row(machine).last_seen

    scene.db.call(heartbeat, machine, [], 30.0, GRACE)

    assert scene.contributor_row(machine).last_seen > before


def test_lapsed_lease_requeues_task_once(scene: Scene) -> None:
    job_id = scene.submit(scene.consumer())
    machine = scene.contributor()
    assignment = scene.claimed(machine)
    assert scene.db.call(lapsed_attempts) == []
    scene.backdate(assignment.attempt_id, scene.lease_seconds + 1)

    lapsed = scene.db.call(lapsed_attempts)
    assert lapsed == [assignment.attempt_id]
    first = scene.db.call(lose_attempt, assignment.attempt_id, scene.limits, "silence")
    second = scene.db.call(lose_attempt, assignment.attempt_id, scene.limits, "silence")

    assert first.job_id == job_id and second.job_id is None
    attempt = scene.attempt(assignment.attempt_id)
    assert attempt.state is AttemptState.LOST and attempt.outcome is OutcomeKind.LOST
    task = scene.task(job_id, 0)
    assert task.state is TaskState.QUEUED and task.attempt_count == 1
    job = scene.job(job_id)
    assert (job.queued_count, job.running_count) == (1, 0)
    assert scene.db.call(lapsed_attempts) == []


def test_losing_an_attempt_that_already_finished_changes_nothing(scene: Scene) -> None:
    job_id = scene.submit(scene.consumer())
    machine = scene.contributor()
    assignment = scene.claimed(machine)
    scene.report(machine, assignment.attempt_id)

    settlement = scene.db.call(lose_attempt, assignment.attempt_id, scene.limits, "late")

    assert settlement.job_id is None
    assert scene.attempt(assignment.attempt_id).state is AttemptState.SUCCEEDED
    assert scene.job(job_id).state is JobState.SUCCEEDED


def test_task_lost_on_every_attempt_fails_saying_the_contributor_was_lost(
    scene: Scene,
) -> None:
    job_id = scene.submit(scene.consumer())
    machine = scene.contributor()

    for _ in range(scene.limits.max_attempts):
        attempt_id = scene.claimed(machine).attempt_id
        scene.db.call(lose_attempt, attempt_id, scene.limits, "no heartbeats")

    task = scene.task(job_id, 0)
    assert task.state is TaskState.FAILED and task.error_kind == "LOST"
    assert "contributor lost: no heartbeats" in task.error_message
    assert scene.job(job_id).state is JobState.FAILED
