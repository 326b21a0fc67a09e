"""Leases: heartbeats keep attempts alive; silence and forgetting requeue their tasks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from runsurge.coordinator.jobs import cancel_job
from runsurge.coordinator.liveness import (
    AgentBeat,
    HeartbeatReply,
    LeaseTerms,
    heartbeat,
    lapsed_attempts,
    lose_attempt,
    renew_after_restart,
)
from runsurge.kinds import OutcomeKind
from runsurge.store.models import utcnow
from runsurge.store.states import AttemptState, JobState, TaskState
from tests.unit.coordinator.scene import Scene

GRACE = 6.0
TERMS = LeaseTerms(lease_seconds=30.0, forget_after_seconds=GRACE, wall_slack_seconds=60.0)


def _beat(
    scene: Scene,
    machine: str,
    running: Sequence[int],
    reported: Sequence[int] = (),
    connected_at: dt.datetime | None = None,
) -> HeartbeatReply:
    beat = AgentBeat(machine, list(running), list(reported), connected_at)
    return scene.db.call(heartbeat, beat, TERMS)


def test_heartbeat_extends_only_the_leases_of_the_attempts_it_lists(scene: Scene) -> None:
    scene.submit(scene.consumer(), [b"a", b"b"])
    machine = scene.contributor(cores=2)
    listed, unlisted = scene.claimed(machine), scene.claimed(machine)
    scene.backdate(listed.attempt_id, 20)
    scene.backdate(unlisted.attempt_id, 20)
    old_unlisted = scene.attempt(unlisted.attempt_id).lease_expires_at

    _beat(scene, machine, [listed.attempt_id])

    assert scene.attempt(listed.attempt_id).lease_expires_at > utcnow()
    assert scene.attempt(unlisted.attempt_id).lease_expires_at == old_unlisted


def test_heartbeat_returns_running_attempts_the_agent_forgot_once_past_the_grace(
    scene: Scene,
) -> None:
    scene.submit(scene.consumer(), [b"a", b"b"])
    machine = scene.contributor(cores=2)
    old, fresh = scene.claimed(machine), scene.claimed(machine)
    scene.backdate(old.attempt_id, GRACE + 1)

    forgotten = _beat(scene, machine, []).forgotten

    # The fresh one may still be on the wire to the agent.
    assert forgotten == [old.attempt_id]
    assert fresh.attempt_id not in forgotten


def test_a_beat_built_before_an_assignment_arrived_forgets_nothing_of_it(
    scene: Scene,
) -> None:
    # A busy coordinator reads a beat late: it was built before the agent received its
    # newest assignment, so its silence about that one says nothing.
    scene.submit(scene.consumer(), [b"a", b"b"])
    machine = scene.contributor(cores=2)
    seen, unseen = scene.claimed(machine), scene.claimed(machine)
    scene.backdate(seen.attempt_id, GRACE + 1)
    scene.backdate(unseen.attempt_id, GRACE + 1)

    beat = AgentBeat(machine, [], [], None, last_assignment_id=seen.attempt_id)
    forgotten = scene.db.call(heartbeat, beat, TERMS).forgotten

    assert forgotten == [seen.attempt_id]  # received, then forgotten: lost
    assert scene.attempt(unseen.attempt_id).state is AttemptState.RUNNING


def test_heartbeat_ignores_other_contributors_attempts(scene: Scene) -> None:
    scene.submit(scene.consumer())
    mine, theirs = scene.contributor("mine"), scene.contributor("theirs")
    assignment = scene.claimed(theirs)
    scene.backdate(assignment.attempt_id, 20)
    lease = scene.attempt(assignment.attempt_id).lease_expires_at

    reply = _beat(scene, mine, [assignment.attempt_id])

    assert reply.forgotten == []
    assert reply.stop == [assignment.attempt_id]  # not the mine's to run
    assert scene.attempt(assignment.attempt_id).lease_expires_at == lease


def test_heartbeat_records_when_the_contributor_was_last_seen(scene: Scene) -> None:
    machine = scene.contributor()
    before = scene.contributor_row(machine).last_seen

    _beat(scene, machine, [])

    assert scene.contributor_row(machine).last_seen > before


def test_first_heartbeats_after_a_reconnect_forget_nothing(scene: Scene) -> None:
    # After a coordinator restart an old attempt the agent no longer lists may have
    # finished in the outage: its report is on its way, ahead of the heartbeats.
    scene.submit(scene.consumer())
    machine = scene.contributor()
    old = scene.claimed(machine)
    scene.backdate(old.attempt_id, 3600)
    just_now = utcnow()

    assert _beat(scene, machine, [], connected_at=just_now).forgotten == []
    later = just_now - dt.timedelta(seconds=GRACE + 1)
    assert _beat(scene, machine, [], connected_at=later).forgotten == [old.attempt_id]


def test_heartbeat_tells_the_agent_to_stop_what_is_no_longer_running_for_it(
    scene: Scene,
) -> None:
    consumer = scene.consumer()
    lost_job, cancelled_job, live_job = (scene.submit(consumer) for _ in range(3))
    machine = scene.contributor(cores=3)
    lost, cancelled, live = (scene.claimed(machine) for _ in range(3))
    scene.db.call(lose_attempt, lost.attempt_id, scene.limits, "silence")
    scene.db.call(cancel_job, consumer, cancelled.job_id)
    unknown = live.attempt_id + 1000

    reply = _beat(scene, machine, [lost.attempt_id, cancelled.attempt_id, live.attempt_id, unknown])

    assert reply.stop == sorted([lost.attempt_id, cancelled.attempt_id, unknown])
    assert reply.forgotten == []
    assert {lost_job, cancelled_job, live_job} == {lost.job_id, cancelled.job_id, live.job_id}


def test_heartbeat_acknowledges_reports_of_settled_attempts_with_a_stop(scene: Scene) -> None:
    scene.submit(scene.consumer(), [b"a", b"b"])
    machine = scene.contributor(cores=2)
    settled, pending = scene.claimed(machine), scene.claimed(machine)
    scene.report(machine, settled.attempt_id)
    lease = scene.attempt(pending.attempt_id).lease_expires_at

    reply = _beat(scene, machine, [], reported=[settled.attempt_id, pending.attempt_id])

    # The pending report is still to be recorded: no stop, and no renewed lease.
    assert reply.stop == [settled.attempt_id]
    assert reply.forgotten == []
    assert scene.attempt(pending.attempt_id).lease_expires_at == lease


def test_heartbeat_renews_no_lease_past_the_wall_limit_plus_slack(scene: Scene) -> None:
    scene.submit(scene.consumer())
    machine = scene.contributor()
    hung = scene.claimed(machine)
    wall = scene.attempt(hung.attempt_id).policy_wall_seconds
    limit = wall + TERMS.wall_slack_seconds
    scene.backdate(hung.attempt_id, limit - 10)

    _beat(scene, machine, [hung.attempt_id])
    attempt = scene.attempt(hung.attempt_id)
    assert attempt.lease_expires_at == attempt.started_at + dt.timedelta(seconds=limit)

    scene.backdate(hung.attempt_id, 20)  # now past its limit: heartbeats no longer help
    _beat(scene, machine, [hung.attempt_id])
    assert scene.db.call(lapsed_attempts) == [hung.attempt_id]


def test_restart_renews_running_leases_for_the_start_up_grace(scene: Scene) -> None:
    scene.submit(scene.consumer(), [b"a", b"b"])
    machine = scene.contributor(cores=2)
    lapsed, long_lease = scene.claimed(machine), scene.claimed(machine)
    scene.backdate(lapsed.attempt_id, scene.lease_seconds + 60)
    long_before = scene.attempt(long_lease.attempt_id).lease_expires_at
    assert scene.db.call(lapsed_attempts) == [lapsed.attempt_id]

    scene.db.call(renew_after_restart, 25.0)

    assert scene.db.call(lapsed_attempts) == []
    renewed = scene.attempt(lapsed.attempt_id).lease_expires_at
    assert dt.timedelta(seconds=24) < renewed - utcnow() <= dt.timedelta(seconds=25)
    # A lease already longer than the grace is left alone.
    assert scene.attempt(long_lease.attempt_id).lease_expires_at == long_before


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


def test_a_task_lost_after_its_agent_had_it_is_claimed_again_as_a_rerun(scene: Scene) -> None:
    scene.submit(scene.consumer())
    machine, other = scene.contributor(), scene.contributor()
    first = scene.claimed(machine)
    assert not first.rerun
    _beat(scene, machine, [first.attempt_id])  # the agent has it: it may run to its end
    scene.db.call(lose_attempt, first.attempt_id, scene.limits, "test: silence")

    again = scene.claimed(other)

    assert again.rerun
    assert scene.attempt(first.attempt_id).reached_agent


def test_an_assignment_lost_before_reaching_its_agent_is_no_rerun(scene: Scene) -> None:
    scene.submit(scene.consumer())
    machine, other = scene.contributor(), scene.contributor()
    first = scene.claimed(machine)
    scene.db.call(lose_attempt, first.attempt_id, scene.limits, "test: never arrived")

    again = scene.claimed(other)

    assert not again.rerun
    assert not scene.attempt(first.attempt_id).reached_agent


def test_a_claim_says_how_long_its_task_waited_since_it_was_requeued(scene: Scene) -> None:
    scene.submit(scene.consumer())
    machine = scene.contributor()
    first = scene.claimed(machine)
    scene.db.call(lose_attempt, first.attempt_id, scene.limits, "test: silence")
    lost_at = scene.attempt(first.attempt_id).finished_at
    assert lost_at is not None

    again = scene.claimed(machine)

    waited = (utcnow() - lost_at).total_seconds()
    assert 0 <= again.queued_seconds <= waited + 0.01
