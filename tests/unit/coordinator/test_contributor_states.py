"""Contributor states on the real database: SUSPECT, DRAINING, who gets work, hand-backs."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import update

from runsurge.coordinator import contributors
from runsurge.coordinator.attempts import RetryLimits
from runsurge.coordinator.liveness import (
    AgentBeat,
    LeaseTerms,
    heartbeat,
    lose_attempt,
    mark_suspects,
)
from runsurge.coordinator.quarantine import QuarantineRules
from runsurge.kinds import OutcomeKind
from runsurge.store.models import Contributor, utcnow
from runsurge.store.states import AttemptState, ContributorState, TaskState, can_transition
from tests.unit.coordinator.scene import GiB, Scene

RULES = QuarantineRules()
TERMS = LeaseTerms(lease_seconds=30.0, forget_after_seconds=6.0, wall_slack_seconds=60.0)


def _set(scene: Scene, machine: str, **values: object) -> None:
    scene.db.call(
        lambda s: s.execute(update(Contributor).where(Contributor.id == machine).values(**values))
    )


def _silent_for(scene: Scene, machine: str, seconds: float) -> None:
    _set(scene, machine, last_seen=utcnow() - dt.timedelta(seconds=seconds))


def _beat(scene: Scene, machine: str, draining: bool = False) -> None:
    scene.db.call(heartbeat, AgentBeat(machine, [], [], None, draining), TERMS)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (ContributorState.QUARANTINED, ContributorState.DRAINING),
        (ContributorState.QUARANTINED, ContributorState.SUSPECT),
        (ContributorState.DRAINING, ContributorState.SUSPECT),
        (ContributorState.DRAINING, ContributorState.ONLINE),  # only via a new registration
        (ContributorState.OFFLINE, ContributorState.SUSPECT),
    ],
)
def test_contributor_machine_refuses_moves_that_would_lose_a_state(
    current: ContributorState, target: ContributorState
) -> None:
    assert not can_transition(current, target)


def test_only_online_is_placeable_and_only_connected_states_count_as_online() -> None:
    assert [s for s in ContributorState if s.placeable] == [ContributorState.ONLINE]
    assert {s for s in ContributorState if s.connected} == {
        ContributorState.ONLINE,
        ContributorState.SUSPECT,
        ContributorState.DRAINING,
    }


def test_silent_online_contributor_becomes_suspect_with_the_reason(scene: Scene) -> None:
    quiet, fresh = scene.contributor("quiet"), scene.contributor("fresh")
    _silent_for(scene, quiet, 5)

    suspects = scene.db.call(mark_suspects, 2.0, RULES)

    assert suspects == [quiet]
    row = scene.contributor_row(quiet)
    assert row.state is ContributorState.SUSPECT and row.state_reason == "no heartbeat for 2 s"
    assert row.state_changed_at is not None
    assert scene.contributor_row(fresh).state is ContributorState.ONLINE


def test_suspect_contributor_returns_online_on_its_next_heartbeat(scene: Scene) -> None:
    machine = scene.contributor()
    _silent_for(scene, machine, 5)
    scene.db.call(mark_suspects, 2.0, RULES)

    _beat(scene, machine)

    row = scene.contributor_row(machine)
    assert row.state is ContributorState.ONLINE and row.state_reason == ""


@pytest.mark.parametrize(
    "state",
    [
        ContributorState.SUSPECT,
        ContributorState.DRAINING,
        ContributorState.QUARANTINED,
        ContributorState.OFFLINE,
    ],
)
def test_no_work_is_placed_on_a_contributor_that_is_not_online(
    scene: Scene, state: ContributorState
) -> None:
    scene.submit(scene.consumer())
    held, online = scene.contributor("held"), scene.contributor("online")
    _set(scene, held, state=state)

    assert scene.claim(held) is None
    assert scene.claim(online) is not None


def test_draining_heartbeat_marks_the_contributor_draining_until_its_stream_closes(
    scene: Scene,
) -> None:
    machine = scene.contributor()

    _beat(scene, machine, draining=True)
    row = scene.contributor_row(machine)
    assert row.state is ContributorState.DRAINING
    assert row.state_reason == "the agent is shutting down"
    _beat(scene, machine, draining=True)  # every later beat says so too: no change
    scene.db.call(contributors.go_offline, machine, RULES)

    row = scene.contributor_row(machine)
    assert row.state is ContributorState.OFFLINE and row.state_reason == "drained"
    assert row.flap_count == 0  # leaving on purpose is not a flap


def test_draining_contributor_is_not_made_suspect_by_silence(scene: Scene) -> None:
    machine = scene.contributor()
    _beat(scene, machine, draining=True)
    _silent_for(scene, machine, 5)

    assert scene.db.call(mark_suspects, 2.0, RULES) == []
    assert scene.contributor_row(machine).state is ContributorState.DRAINING


def test_start_up_marks_contributors_offline_but_keeps_a_quarantine(scene: Scene) -> None:
    online, quarantined = scene.contributor("online"), scene.contributor("quarantined")
    _set(scene, quarantined, state=ContributorState.QUARANTINED, state_reason="5 failures")

    scene.db.call(contributors.mark_all_offline)

    assert scene.contributor_row(online).state is ContributorState.OFFLINE
    row = scene.contributor_row(quarantined)
    assert row.state is ContributorState.QUARANTINED and row.state_reason == "5 failures"


def test_listing_shows_state_and_reason_and_keeps_online_for_connected_states(
    scene: Scene,
) -> None:
    draining = scene.contributor("draining")
    _beat(scene, draining, draining=True)

    (view,) = scene.db.call(contributors.list_contributors)

    assert (view.state, view.state_reason, view.online) == (
        "DRAINING",
        "the agent is shutting down",
        True,
    )


def test_handed_back_attempt_requeues_its_task_without_consuming_its_budget(
    scene: Scene,
) -> None:
    scene.limits = RetryLimits(max_attempts=1, max_reservation_bytes=4 * GiB)
    job_id = scene.submit(scene.consumer())
    machine = scene.contributor()

    for _ in range(3):  # handed back again and again: never "gave up after 1 attempts"
        attempt = scene.claimed(machine)
        scene.report(machine, attempt.attempt_id, OutcomeKind.CANCELLED)
        task = scene.task(job_id, 0)
        assert task.state is TaskState.QUEUED and task.attempt_count == 0
        assert scene.attempt(attempt.attempt_id).state is AttemptState.CANCELLED

    final = scene.claimed(machine)
    scene.report(machine, final.attempt_id, OutcomeKind.OK)
    assert scene.task(job_id, 0).state is TaskState.SUCCEEDED


def test_a_lost_attempt_still_consumes_the_budget(scene: Scene) -> None:
    limits = RetryLimits(max_attempts=1, max_reservation_bytes=4 * GiB)
    job_id = scene.submit(scene.consumer())
    machine = scene.contributor()
    attempt = scene.claimed(machine)

    scene.db.call(lose_attempt, attempt.attempt_id, limits, "gone")

    task = scene.task(job_id, 0)
    assert task.state is TaskState.FAILED and task.attempt_count == 1


REGISTRATION = contributors.Registration(
    contributor_id="",
    name="box",
    cores=1,
    memory_bytes=GiB,
    isolation_level="",
    insecure=False,
    benchmark_score=1.0,
    agent_version="0",
)


def test_registration_with_the_secret_resumes_the_identity_after_a_restart(scene: Scene) -> None:
    first = scene.db.call(contributors.register, REGISTRATION)
    again = dataclasses.replace(
        REGISTRATION, contributor_id=first.contributor_id, secret=first.secret, restarted=True
    )

    assert scene.db.call(contributors.register, again).resumed


def test_an_agent_reconnecting_while_draining_is_draining_before_its_stream_opens(
    scene: Scene,
) -> None:
    first = scene.db.call(contributors.register, REGISTRATION)
    scene.db.call(contributors.go_online, first.contributor_id)
    scene.db.call(contributors.go_offline, first.contributor_id, RULES)  # the stream broke
    again = dataclasses.replace(
        REGISTRATION, contributor_id=first.contributor_id, secret=first.secret, draining=True
    )

    scene.db.call(contributors.register, again)
    scene.db.call(contributors.go_online, first.contributor_id)

    assert scene.contributor_row(first.contributor_id).state is ContributorState.DRAINING
    scene.submit(scene.consumer())
    assert scene.claim(first.contributor_id) is None


def test_a_new_agent_process_takes_a_draining_identity_back_online(scene: Scene) -> None:
    first = scene.db.call(contributors.register, REGISTRATION)
    scene.db.call(contributors.go_online, first.contributor_id)
    _beat(scene, first.contributor_id, draining=True)  # the old process drains, then dies
    again = dataclasses.replace(
        REGISTRATION, contributor_id=first.contributor_id, secret=first.secret, restarted=True
    )

    scene.db.call(contributors.register, again)
    assert scene.contributor_row(first.contributor_id).state is ContributorState.OFFLINE
    scene.db.call(contributors.go_online, first.contributor_id)

    assert scene.contributor_row(first.contributor_id).state is ContributorState.ONLINE
