"""Per-job options: limits a job lowers, never raises; priority within its consumer; labels."""

from __future__ import annotations

import pytest

from runsurge.coordinator import jobs
from runsurge.coordinator.job_options import JobOptions, OptionMaxima
from runsurge.coordinator.policy import policy_for, recorded_policy
from runsurge.errors import InvalidRequest
from runsurge.kinds import OutcomeKind
from runsurge.sandbox.policy import SandboxPolicy
from runsurge.store.models import Job, Task
from runsurge.store.states import TaskState
from tests.unit.coordinator.scene import MiB, Scene

DEFAULTS = SandboxPolicy(wall_seconds=90.0, cpu_seconds=60.0)
MAXIMA = OptionMaxima(wall_seconds=90.0, cpu_seconds=60.0, max_attempts=3)


def test_policy_takes_the_jobs_lower_wall_and_cpu_time() -> None:
    task = Task(memory_reservation_bytes=256 * MiB)

    policy = policy_for(task, Job(wall_seconds=2.0, cpu_seconds=1.5), DEFAULTS)

    assert (policy.wall_seconds, policy.cpu_seconds) == (2.0, 1.5)


def test_policy_keeps_the_coordinators_limits_when_the_job_sets_none_or_more() -> None:
    task = Task(memory_reservation_bytes=256 * MiB)

    unset = policy_for(task, Job(wall_seconds=0.0, cpu_seconds=0.0), DEFAULTS)
    above = policy_for(task, Job(wall_seconds=1e6, cpu_seconds=1e6), DEFAULTS)

    assert (unset.wall_seconds, unset.cpu_seconds) == (90.0, 60.0)
    assert (above.wall_seconds, above.cpu_seconds) == (90.0, 60.0)


def test_claimed_attempt_records_the_jobs_wall_limit(scene: Scene) -> None:
    scene.policy_defaults = DEFAULTS
    scene.submit(scene.consumer(), [b"x"], job_options=JobOptions(wall_seconds=2.0))

    assignment = scene.claimed(scene.contributor())

    assert assignment.policy.wall_seconds == 2.0
    assert recorded_policy(scene.attempt(assignment.attempt_id)).wall_seconds == 2.0


def test_jobs_max_attempts_ends_retries_before_the_coordinators(scene: Scene) -> None:
    job_id = scene.submit(scene.consumer(), job_options=JobOptions(max_attempts=1))
    machine = scene.contributor()

    scene.report(machine, scene.claimed(machine).attempt_id, OutcomeKind.INFRASTRUCTURE)

    task = scene.task(job_id, 0)
    assert task.state is TaskState.FAILED and task.attempt_count == 1
    assert "gave up after 1 attempts" in task.error_message


def test_jobs_max_attempts_never_exceeds_the_coordinators(scene: Scene) -> None:
    # Stored above the maximum (e.g. the maximum was lowered since): the coordinator's wins.
    job_id = scene.submit(scene.consumer(), job_options=JobOptions(max_attempts=10))
    machine = scene.contributor()

    for _ in range(scene.limits.max_attempts):
        scene.report(machine, scene.claimed(machine).attempt_id, OutcomeKind.INFRASTRUCTURE)

    assert scene.task(job_id, 0).state is TaskState.FAILED


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            JobOptions(wall_seconds=91.0),
            "--wall-time 91s is above this coordinator's maximum of 90s",
        ),
        (JobOptions(cpu_seconds=61.0), "--cpu-time 61s is above this coordinator's maximum of 60s"),
        (JobOptions(max_attempts=4), "--max-attempts 4 is above this coordinator's maximum of 3"),
        (JobOptions(wall_seconds=-1.0), "--wall-time must be a positive duration"),
        (JobOptions(cpu_seconds=float("nan")), "--cpu-time must be a positive duration"),
        (JobOptions(labels={"bad key": "v"}), "--label key 'bad key'"),
        (JobOptions(labels={"k": "v" * 300}), "at most 256"),
        (JobOptions(idempotency_key="k" * 129), "at most 128"),
    ],
)
def test_options_beyond_the_coordinators_maxima_are_refused_naming_them(
    options: JobOptions, message: str
) -> None:
    with pytest.raises(InvalidRequest, match=message.replace("(", r"\(")):
        options.validate(MAXIMA)


def test_options_at_the_maxima_are_accepted() -> None:
    JobOptions(wall_seconds=90.0, cpu_seconds=60.0, max_attempts=3, labels={"a/b.c": "x"}).validate(
        MAXIMA
    )


def test_priority_runs_the_consumers_higher_priority_job_first(scene: Scene) -> None:
    consumer = scene.consumer()
    machine = scene.contributor(cores=4)
    low = scene.submit(consumer, [b"older, low"], job_options=JobOptions(priority=0))
    high = scene.submit(consumer, [b"newer, high"], job_options=JobOptions(priority=5))

    assert scene.claimed(machine).job_id == high
    assert scene.claimed(machine).job_id == low


def test_priority_does_not_take_a_turn_from_another_consumer(scene: Scene) -> None:
    a, b = scene.consumer("a"), scene.consumer("b")
    machine = scene.contributor(cores=4)
    scene.submit(a, [b"1", b"2"])
    scene.claimed(machine)  # a runs one task; b runs none
    a_urgent = scene.submit(a, [b"a, high priority"], job_options=JobOptions(priority=100))
    b_plain = scene.submit(b, [b"b, no priority"])

    assert scene.claimed(machine).job_id == b_plain  # b's turn, whatever a's priority
    assert scene.claimed(machine).job_id == a_urgent  # then a's, its highest first


def test_equal_priorities_keep_the_fair_order_within_a_consumer(scene: Scene) -> None:
    consumer = scene.consumer()
    machine = scene.contributor(cores=4)
    group = scene.submit(consumer, [b"0", b"1", b"2"], job_options=JobOptions(priority=1))
    scene.claimed(machine)
    single = scene.submit(consumer, [b"single"], job_options=JobOptions(priority=1))

    assert scene.claimed(machine).job_id == single  # fewer running, as without priorities
    assert scene.claimed(machine).job_id == group


def test_options_and_labels_round_trip_through_the_job_view(scene: Scene) -> None:
    consumer = scene.consumer()
    chosen = JobOptions(
        wall_seconds=5.0,
        cpu_seconds=4.0,
        max_attempts=2,
        priority=-3,
        labels={"team": "ml", "run": "7"},
        idempotency_key="key-1",
    )
    job_id = scene.submit(consumer, job_options=chosen)

    view = scene.db.call(jobs.job_view, consumer, job_id, scene.blobs, 1024)

    assert view.job_options == chosen
