"""Quarantine rules on the real database: infrastructure failures, flaps, release."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update

from runsurge.coordinator import contributors
from runsurge.coordinator.liveness import lose_attempt, mark_suspects
from runsurge.coordinator.quarantine import (
    QuarantineRules,
    count_failures,
    release_expired,
    release_now,
    span,
)
from runsurge.errors import Conflict, NotFound
from runsurge.kinds import OutcomeKind
from runsurge.store.models import Attempt, Contributor, utcnow
from runsurge.store.states import ContributorState
from tests.unit.coordinator.scene import Scene

RULES = QuarantineRules(
    failures=3, failure_window_seconds=600, flaps=3, flap_window_seconds=600, duration_seconds=60
)


def _fail_on(scene: Scene, machine: str, outcome: OutcomeKind, times: int) -> list[bool]:
    """Run `times` tasks on the machine, each ending with `outcome`; the quarantine verdicts."""
    verdicts = []
    for _ in range(times):
        scene.submit(scene.consumer())
        attempt = scene.claimed(machine)
        if outcome is OutcomeKind.LOST:
            scene.db.call(lose_attempt, attempt.attempt_id, scene.limits, "gone")
        else:
            scene.report(machine, attempt.attempt_id, outcome, result=None)
        verdicts.append(scene.db.call(count_failures, machine, RULES))
    return verdicts


def _set(scene: Scene, machine: str, **values: object) -> None:
    scene.db.call(
        lambda s: s.execute(update(Contributor).where(Contributor.id == machine).values(**values))
    )


def test_windows_read_as_people_say_them() -> None:
    assert (span(600), span(90), span(7200)) == ("10 min", "90 s", "2 h")


def test_infrastructure_failures_reaching_the_threshold_quarantine_with_the_reason(
    scene: Scene,
) -> None:
    machine = scene.contributor()

    verdicts = _fail_on(scene, machine, OutcomeKind.INFRASTRUCTURE, 2)
    verdicts += _fail_on(scene, machine, OutcomeKind.LOST, 1)

    assert verdicts == [False, False, True]
    row = scene.contributor_row(machine)
    assert row.state is ContributorState.QUARANTINED
    assert row.state_reason.startswith(
        "3 infrastructure failures in 10 min (1 lost, 2 sandbox failures)"
    )
    assert row.quarantined_until is not None and row.quarantined_until > utcnow()


@pytest.mark.parametrize(
    "outcome",
    [
        OutcomeKind.SCRIPT_ERROR,
        OutcomeKind.TIMEOUT,
        OutcomeKind.OUT_OF_MEMORY,
        OutcomeKind.CPU_LIMIT,
        OutcomeKind.CANCELLED,
    ],
)
def test_failures_that_are_the_scripts_or_hand_backs_never_quarantine(
    scene: Scene, outcome: OutcomeKind
) -> None:
    machine = scene.contributor()

    assert _fail_on(scene, machine, outcome, 4) == [False] * 4
    assert scene.contributor_row(machine).state is ContributorState.ONLINE


def test_failures_older_than_the_window_do_not_count(scene: Scene) -> None:
    machine = scene.contributor()
    _fail_on(scene, machine, OutcomeKind.INFRASTRUCTURE, 2)
    scene.db.call(
        lambda s: s.execute(
            update(Attempt).values(finished_at=utcnow() - dt.timedelta(seconds=601))
        )
    )

    assert _fail_on(scene, machine, OutcomeKind.INFRASTRUCTURE, 2) == [False, False]
    assert scene.contributor_row(machine).state is ContributorState.ONLINE


def test_heartbeat_flaps_reaching_the_threshold_quarantine_with_the_reason(scene: Scene) -> None:
    machine = scene.contributor()
    for flap in range(RULES.flaps):
        assert scene.contributor_row(machine).state is ContributorState.ONLINE, flap
        if flap % 2:  # lost its stream while online
            scene.db.call(contributors.go_offline, machine, RULES)
        else:  # went quiet
            _set(scene, machine, last_seen=utcnow() - dt.timedelta(seconds=5))
            scene.db.call(mark_suspects, 2.0, RULES)
            scene.db.call(contributors.go_offline, machine, RULES)  # not counted again
        scene.db.call(contributors.go_online, machine)

    row = scene.contributor_row(machine)
    assert row.state is ContributorState.QUARANTINED
    assert row.state_reason.startswith("3 heartbeat flaps in 10 min")


def test_flaps_in_separate_windows_do_not_add_up(scene: Scene) -> None:
    machine = scene.contributor()
    for _ in range(RULES.flaps - 1):
        scene.db.call(contributors.go_offline, machine, RULES)
        scene.db.call(contributors.go_online, machine)
    _set(scene, machine, flap_window_started_at=utcnow() - dt.timedelta(seconds=601))

    scene.db.call(contributors.go_offline, machine, RULES)

    row = scene.contributor_row(machine)
    assert row.state is ContributorState.OFFLINE and row.flap_count == 1


def test_quarantine_outlives_reconnects_and_heartbeats(scene: Scene) -> None:
    machine = scene.contributor()
    _fail_on(scene, machine, OutcomeKind.INFRASTRUCTURE, RULES.failures)

    scene.db.call(contributors.go_offline, machine, RULES)
    scene.db.call(contributors.go_online, machine)
    scene.db.call(contributors.beat, machine, False)

    assert scene.contributor_row(machine).state is ContributorState.QUARANTINED
    scene.submit(scene.consumer())
    assert scene.claim(machine) is None


def test_expired_quarantine_is_released_and_its_old_failures_never_count_again(
    scene: Scene,
) -> None:
    connected, gone = scene.contributor("connected"), scene.contributor("gone")
    for machine in (connected, gone):
        _fail_on(scene, machine, OutcomeKind.INFRASTRUCTURE, RULES.failures)
        _set(scene, machine, quarantined_until=utcnow())  # time is up (after its failures)

    released = scene.db.call(release_expired, {connected})

    assert sorted(released) == sorted([connected, gone])
    assert scene.contributor_row(connected).state is ContributorState.ONLINE
    assert scene.contributor_row(gone).state is ContributorState.OFFLINE
    assert scene.contributor_row(connected).state_reason == "released from quarantine"
    assert _fail_on(scene, connected, OutcomeKind.INFRASTRUCTURE, 1) == [False]


def test_unexpired_quarantine_is_not_released(scene: Scene) -> None:
    machine = scene.contributor()
    _fail_on(scene, machine, OutcomeKind.INFRASTRUCTURE, RULES.failures)

    assert scene.db.call(release_expired, {machine}) == []
    assert scene.contributor_row(machine).state is ContributorState.QUARANTINED


def test_an_operator_release_ends_the_quarantine_at_the_next_release_round(
    scene: Scene,
) -> None:
    machine = scene.contributor()
    _fail_on(scene, machine, OutcomeKind.INFRASTRUCTURE, RULES.failures)
    assert scene.db.call(release_expired, {machine}) == []  # an hour to go

    reason = scene.db.call(release_now, machine)

    assert reason.startswith("3 infrastructure failures in 10 min")
    assert scene.db.call(release_expired, {machine}) == [machine]
    assert scene.contributor_row(machine).state is ContributorState.ONLINE
    assert _fail_on(scene, machine, OutcomeKind.INFRASTRUCTURE, 1) == [False]


def test_releasing_a_contributor_that_is_not_quarantined_says_why(scene: Scene) -> None:
    machine = scene.contributor()
    with pytest.raises(Conflict, match="is ONLINE, not quarantined"):
        scene.db.call(release_now, machine)
    with pytest.raises(NotFound, match="no contributor with id 'nope'"):
        scene.db.call(release_now, "nope")
