"""Contributors: one identity across registrations, online state, listing, fetch rights."""

from __future__ import annotations

import dataclasses

import pytest

from runsurge.coordinator import contributors
from runsurge.coordinator.auth import CONTRIBUTOR, ENROLMENT, identify, token_hash
from runsurge.coordinator.contributors import Registration
from runsurge.coordinator.quarantine import QuarantineRules
from runsurge.errors import InvalidRequest, PermissionDenied, Unauthenticated
from runsurge.store.models import Contributor
from runsurge.store.states import ContributorState
from tests.unit.coordinator.scene import SCRIPT, GiB, Scene

MACHINE = Registration(
    contributor_id="",
    name="box",
    cores=4,
    memory_bytes=8 * GiB,
    isolation_level="bwrap+cgroup2+seccomp",
    insecure=False,
    benchmark_score=1.25,
    agent_version="0.1.0",
)
RULES = QuarantineRules()


def test_enrolment_needs_the_exact_token(scene: Scene) -> None:
    assert scene.db.call(identify, "rsk_secret", "rsk_secret").kind == ENROLMENT
    for wrong in ("", "rsk_secre", "rsk_secret2", "RSK_SECRET"):
        with pytest.raises(Unauthenticated, match="unknown enrolment token"):
            scene.db.call(identify, wrong, "rsk_secret", ENROLMENT)


def test_first_registration_creates_an_offline_contributor_with_a_session_token(
    scene: Scene,
) -> None:
    registered = scene.db.call(contributors.register, MACHINE)

    row = scene.contributor_row(registered.contributor_id)
    assert row.state is ContributorState.OFFLINE
    assert (row.name, row.cores, row.memory_bytes) == ("box", 4, 8 * GiB)
    # The score it asserts is not believed: only benchmark parts make a claim (factor.py).
    assert (row.benchmark_score, row.claimed_factor) == (1.0, 1)
    assert registered.session_token not in row.session_token_sha256  # only its hash is kept
    principal = scene.db.call(identify, registered.session_token, "")
    assert (principal.kind, principal.id) == (CONTRIBUTOR, registered.contributor_id)


def test_registering_again_keeps_the_identity_and_retires_the_old_token(scene: Scene) -> None:
    first = scene.db.call(contributors.register, MACHINE)
    again = dataclasses.replace(
        MACHINE, contributor_id=first.contributor_id, secret=first.secret, cores=8
    )

    second = scene.db.call(contributors.register, again)

    assert second.contributor_id == first.contributor_id
    assert scene.contributor_row(first.contributor_id).cores == 8
    assert scene.db.call(lambda s: s.query(Contributor).count()) == 1
    with pytest.raises(Unauthenticated):
        scene.db.call(identify, first.session_token, "")
    scene.db.call(identify, second.session_token, "")


def test_first_registration_issues_a_secret_and_keeps_only_its_hash(scene: Scene) -> None:
    registered = scene.db.call(contributors.register, MACHINE)

    row = scene.contributor_row(registered.contributor_id)
    assert registered.secret and not registered.resumed
    assert row.identity_secret_sha256 == token_hash(registered.secret)
    assert registered.secret not in row.identity_secret_sha256


def test_registering_with_the_secret_resumes_without_issuing_a_new_one(scene: Scene) -> None:
    first = scene.db.call(contributors.register, MACHINE)
    again = dataclasses.replace(MACHINE, contributor_id=first.contributor_id, secret=first.secret)

    second = scene.db.call(contributors.register, again)

    assert second.resumed and second.secret == ""
    row = scene.contributor_row(first.contributor_id)
    assert row.identity_secret_sha256 == token_hash(first.secret)


@pytest.mark.parametrize("secret", ["", "rsi_forged", "wrong"])
def test_registering_as_a_known_contributor_with_a_wrong_secret_is_refused(
    scene: Scene, secret: str
) -> None:
    owner = scene.db.call(contributors.register, MACHINE)
    forged = dataclasses.replace(MACHINE, contributor_id=owner.contributor_id, secret=secret)

    with pytest.raises(PermissionDenied, match=r"delete identity\.json"):
        scene.db.call(contributors.register, forged)

    # The owner's session still works: the attempt took nothing over.
    assert scene.db.call(identify, owner.session_token, "").id == owner.contributor_id
    assert scene.db.call(lambda s: s.query(Contributor).count()) == 1


def test_an_id_from_before_identity_secrets_is_never_taken_over(scene: Scene) -> None:
    old = scene.contributor()  # a row with no identity secret, as migration 0009 leaves them
    registered = scene.db.call(
        contributors.register, dataclasses.replace(MACHINE, contributor_id=old, secret="")
    )

    assert registered.contributor_id != old and registered.secret


def test_registration_with_an_unknown_id_gets_a_fresh_identity(scene: Scene) -> None:
    registered = scene.db.call(
        contributors.register, dataclasses.replace(MACHINE, contributor_id="forged")
    )

    assert registered.contributor_id != "forged"


@pytest.mark.parametrize(("cores", "memory"), [(0, GiB), (2, 0), (-1, -1)])
def test_registration_offering_no_cores_or_no_memory_is_refused(
    scene: Scene, cores: int, memory: int
) -> None:
    with pytest.raises(InvalidRequest, match="at least one core"):
        scene.db.call(
            contributors.register, dataclasses.replace(MACHINE, cores=cores, memory_bytes=memory)
        )
    assert scene.db.call(lambda s: s.query(Contributor).count()) == 0


def test_opening_the_work_stream_goes_online_and_closing_it_offline(scene: Scene) -> None:
    registered = scene.db.call(contributors.register, MACHINE)

    capacity = scene.db.call(contributors.go_online, registered.contributor_id)
    assert (capacity.cores, capacity.memory_bytes) == (4, 8 * GiB)
    assert scene.contributor_row(registered.contributor_id).state is ContributorState.ONLINE

    scene.db.call(contributors.go_offline, registered.contributor_id, RULES)
    assert scene.contributor_row(registered.contributor_id).state is ContributorState.OFFLINE


def test_going_offline_keeps_the_contributors_attempts_running(scene: Scene) -> None:
    job_id = scene.submit(scene.consumer())
    machine = scene.contributor()
    assignment = scene.claimed(machine)

    scene.db.call(contributors.go_offline, machine, RULES)

    # Its lease decides: a reconnect within it can still deliver the result.
    scene.report(machine, assignment.attempt_id)
    assert scene.task(job_id, 0).result_sha256


def test_start_up_marks_every_contributor_offline(scene: Scene) -> None:
    machines = [scene.contributor(f"m{i}") for i in range(3)]

    scene.db.call(contributors.mark_all_offline)

    assert {scene.contributor_row(m).state for m in machines} == {ContributorState.OFFLINE}


def test_listing_counts_each_contributors_running_attempts(scene: Scene) -> None:
    scene.submit(scene.consumer(), [b"a", b"b", b"c"])
    busy, idle = scene.contributor("busy", cores=2), scene.contributor("idle")
    scene.claimed(busy)
    scene.claimed(busy)
    scene.db.call(contributors.go_offline, idle, RULES)

    listing = {v.name: v for v in scene.db.call(contributors.list_contributors)}

    assert listing["busy"].running_tasks == 2 and listing["busy"].online
    assert listing["idle"].running_tasks == 0 and not listing["idle"].online
    assert [v.name for v in scene.db.call(contributors.list_contributors)] == ["busy", "idle"]


def test_fetch_allowed_for_script_and_input_of_an_attempt_it_runs(scene: Scene) -> None:
    scene.submit(scene.consumer(), [b"my input"])
    machine = scene.contributor()
    assignment = scene.claimed(machine)

    for sha in (assignment.script_sha256, assignment.input_sha256):
        assert scene.db.call(contributors.authorize_fetch, machine, sha) == sha


def test_fetch_refused_for_blob_of_another_contributors_attempt(scene: Scene) -> None:
    scene.submit(scene.consumer(), [b"theirs"], script=SCRIPT + b"# theirs\n")
    owner, other = scene.contributor("owner"), scene.contributor("other")
    assignment = scene.claimed(owner)

    for sha in (assignment.script_sha256, assignment.input_sha256):
        with pytest.raises(PermissionDenied, match="no attempt you are running"):
            scene.db.call(contributors.authorize_fetch, other, sha)


def test_fetch_refused_once_the_attempt_finished(scene: Scene) -> None:
    scene.submit(scene.consumer(), [b"done"])
    machine = scene.contributor()
    assignment = scene.claimed(machine)
    scene.report(machine, assignment.attempt_id)

    with pytest.raises(PermissionDenied):
        scene.db.call(contributors.authorize_fetch, machine, assignment.input_sha256)


def test_fetch_of_something_that_is_not_a_hash_is_refused(scene: Scene) -> None:
    machine = scene.contributor()

    with pytest.raises(InvalidRequest, match="not a sha256"):
        scene.db.call(contributors.authorize_fetch, machine, "../../etc/passwd")
