"""The fan-in: built-in reducers on the coordinator, or aggregate() as one more task."""

from __future__ import annotations

import json

from runsurge.coordinator.aggregation import prepare_script_aggregate, run_builtin
from runsurge.coordinator.jobs import GroupOptions, aggregate_task
from runsurge.kinds import OutcomeKind, TaskKind
from runsurge.store.models import AGGREGATE_INDEX
from runsurge.store.states import JobState, TaskState
from tests.unit.coordinator.scene import MiB, Scene

SCRIPT = b"def process(x):\n    return {}\n\ndef aggregate(results):\n    return {}\n"


def _finish_inputs(scene: Scene, machine: str, results: list[bytes]) -> None:
    for result in results:
        scene.report(machine, scene.claimed(machine).attempt_id, result=result)


def test_builtin_reducers_finish_the_group_with_its_aggregate(scene: Scene) -> None:
    options = GroupOptions(aggregate_specs=("n=sum",))
    job_id = scene.submit(scene.consumer(), [b"a", b"b"], options=options)
    machine = scene.contributor(cores=2)
    _finish_inputs(scene, machine, [b'{"n": 2}', b'{"n": 3}'])

    assert run_builtin(scene.db, scene.blobs, job_id, ["n=sum"])

    job = scene.job(job_id)
    assert job.state is JobState.SUCCEEDED
    assert json.loads(scene.blobs.read(job.aggregate_sha256 or "")) == {"n": 5}
    assert not run_builtin(scene.db, scene.blobs, job_id, ["n=sum"])  # finished once


def test_script_aggregate_is_one_task_of_kind_aggregate_over_the_results(scene: Scene) -> None:
    options = GroupOptions(aggregate_script=True)
    job_id = scene.submit(scene.consumer(), [b"a", b"b"], options=options, script=SCRIPT)
    machine = scene.contributor(cores=2)
    _finish_inputs(scene, machine, [b'{"i": 0}', b'{"i": 1}'])
    assert scene.job(job_id).state is JobState.AGGREGATING

    assert prepare_script_aggregate(scene.db, scene.blobs, job_id, 256 * MiB)
    assert not prepare_script_aggregate(scene.db, scene.blobs, job_id, 256 * MiB)

    task = scene.db.call(aggregate_task, job_id)
    assert task is not None and task.kind is TaskKind.AGGREGATE
    assert task.index == AGGREGATE_INDEX and task.state is TaskState.QUEUED
    assignment = scene.claimed(machine)
    assert assignment.entrypoint is TaskKind.AGGREGATE
    assert assignment.input_inline == b'{"i":0}\n{"i":1}\n'
    assert scene.job(job_id).task_count == 2  # the aggregate task is not an input


def test_group_finishes_when_its_aggregate_task_does(scene: Scene) -> None:
    options = GroupOptions(aggregate_script=True)
    job_id = scene.submit(scene.consumer(), [b"a"], options=options, script=SCRIPT)
    machine = scene.contributor()
    _finish_inputs(scene, machine, [b'{"i": 0}'])
    prepare_script_aggregate(scene.db, scene.blobs, job_id, 256 * MiB)
    assignment = scene.claimed(machine)

    scene.report(machine, assignment.attempt_id, result=b'{"total": 1}')

    job = scene.job(job_id)
    assert job.state is JobState.SUCCEEDED
    assert scene.blobs.read(job.aggregate_sha256 or "") == b'{"total": 1}'
    assert (job.succeeded_count, job.running_count) == (1, 0)  # inputs only


def test_failed_aggregate_task_fails_the_group_saying_why(scene: Scene) -> None:
    options = GroupOptions(aggregate_script=True)
    job_id = scene.submit(scene.consumer(), [b"a"], options=options, script=SCRIPT)
    machine = scene.contributor()
    _finish_inputs(scene, machine, [b'{"i": 0}'])
    prepare_script_aggregate(scene.db, scene.blobs, job_id, 256 * MiB)

    scene.report(machine, scene.claimed(machine).attempt_id, OutcomeKind.SCRIPT_ERROR)

    job = scene.job(job_id)
    assert job.state is JobState.FAILED and job.error_kind == "AGGREGATION"
    assert job.error_message.startswith("aggregate() failed: SCRIPT_ERROR")
