"""An attempt's sandbox policy is decided once, at claim time, stored, and sent as decided."""

from __future__ import annotations

import dataclasses

from runsurge.coordinator.aggregation import prepare_script_aggregate
from runsurge.coordinator.jobs import GroupOptions
from runsurge.coordinator.policy import policy_for, recorded_policy
from runsurge.kinds import OutcomeKind, TaskKind
from runsurge.sandbox.policy import SandboxPolicy
from runsurge.store.models import Job, Task
from tests.unit.coordinator.scene import GiB, MiB, Scene

DEFAULTS = SandboxPolicy(
    memory_bytes=256 * MiB,
    pids=32,
    cpu_seconds=60.0,
    wall_seconds=90.0,
    max_output_bytes=8 * MiB,
    max_log_bytes=64 * 1024,
    workdir_bytes=16 * MiB,
)


def test_policy_takes_memory_from_the_reservation_and_the_rest_from_the_defaults() -> None:
    task = Task(memory_reservation_bytes=768 * MiB)

    policy = policy_for(task, Job(), DEFAULTS)

    assert policy == dataclasses.replace(DEFAULTS, memory_bytes=768 * MiB)


def test_claim_decides_policy_once_and_stores_it(scene: Scene) -> None:
    scene.policy_defaults = DEFAULTS
    scene.submit(scene.consumer(), [b"x"], reservation=512 * MiB)
    machine = scene.contributor()

    assignment = scene.claimed(machine)
    scene.policy_defaults = dataclasses.replace(DEFAULTS, wall_seconds=1.0)  # changed later

    expected = dataclasses.replace(DEFAULTS, memory_bytes=512 * MiB)
    assert assignment.policy == expected
    assert recorded_policy(scene.attempt(assignment.attempt_id)) == expected


def test_retry_after_out_of_memory_gets_a_new_policy_and_the_old_one_is_kept(
    scene: Scene,
) -> None:
    scene.policy_defaults = DEFAULTS
    job_id = scene.submit(scene.consumer(), [b"x"], reservation=512 * MiB)
    machine = scene.contributor(memory=4 * GiB)
    first = scene.claimed(machine)
    scene.report(machine, first.attempt_id, OutcomeKind.OUT_OF_MEMORY)

    second = scene.claimed(machine)

    assert second.policy.memory_bytes == 1 * GiB
    old, new = scene.attempts_of(job_id, 0)
    assert recorded_policy(old).memory_bytes == 512 * MiB
    assert recorded_policy(new) == second.policy


def test_aggregate_task_attempt_gets_its_policy_the_same_way(scene: Scene) -> None:
    scene.policy_defaults = DEFAULTS
    script = b"def process(x):\n    return {}\n\ndef aggregate(results):\n    return {}\n"
    options = GroupOptions(aggregate_script=True)
    job_id = scene.submit(scene.consumer(), [b"a"], options=options, script=script)
    machine = scene.contributor()
    scene.report(machine, scene.claimed(machine).attempt_id)
    prepare_script_aggregate(scene.db, scene.blobs, job_id, 300 * MiB)

    assignment = scene.claimed(machine)

    assert assignment.entrypoint is TaskKind.AGGREGATE
    assert assignment.policy == dataclasses.replace(DEFAULTS, memory_bytes=300 * MiB)
    assert recorded_policy(scene.attempt(assignment.attempt_id)) == assignment.policy
