"""The fan-in: built-in reducers on the coordinator, or aggregate() as one more task."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import time
from collections.abc import Callable

from runsurge.coordinator.aggregation import (
    Aggregator,
    FaninRetry,
    aggregating_jobs,
    prepare_script_aggregate,
    run_builtin,
)
from runsurge.coordinator.jobs import GroupOptions, aggregate_task
from runsurge.kinds import OutcomeKind, TaskKind
from runsurge.store.models import AGGREGATE_INDEX, utcnow
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


# -- isolation: one bad group never stops the others ------------------------------


def _group(scene: Scene, machine: str, results: list[bytes], spec: str = "n=sum") -> str:
    options = GroupOptions(aggregate_specs=(spec,))
    job_id = scene.submit(scene.consumer(), [b"x"] * len(results), options=options)
    _finish_inputs(scene, machine, results)
    assert scene.job(job_id).state is JobState.AGGREGATING
    return job_id


def _run_aggregator_until(
    aggregator: Aggregator, *stages: Callable[[], Callable[[], bool]], timeout: float = 10.0
) -> None:
    """The real loop, running throughout; each stage sets up and returns when it is done."""

    async def body() -> None:
        loop = asyncio.create_task(aggregator.run(lambda _ids: None))
        try:
            for stage in stages:
                done = await asyncio.to_thread(stage)
                deadline = time.monotonic() + timeout
                while not await asyncio.to_thread(done):
                    assert time.monotonic() < deadline, "the aggregator did not get there"
                    aggregator.wake()
                    await asyncio.sleep(0.05)
        finally:
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loop

    asyncio.run(body())


def _final(scene: Scene, *job_ids: str) -> Callable[[], bool]:
    return lambda: all(scene.job(j).state.final for j in job_ids)


def test_a_group_its_reducers_break_on_fails_alone_and_later_groups_still_aggregate(
    scene: Scene,
) -> None:
    machine = scene.contributor(cores=4)
    # mean over an integer too large for a float: the reducer raises OverflowError.
    poisoned = _group(scene, machine, [b'{"n": 1' + b"0" * 400 + b"}"], "n=mean")
    wrong_type = _group(scene, machine, [b'{"n": "many"}'])
    healthy = _group(scene, machine, [b'{"n": 2}', b'{"n": 5}'])
    aggregator = Aggregator(scene.db, scene.blobs, 256 * MiB)

    later: list[str] = []

    def add_later_group() -> Callable[[], bool]:
        later.append(_group(scene, machine, [b'{"n": 10}']))
        return _final(scene, *later)

    _run_aggregator_until(
        aggregator, lambda: _final(scene, poisoned, wrong_type, healthy), add_later_group
    )

    assert scene.job(healthy).state is JobState.SUCCEEDED
    assert json.loads(scene.blobs.read(scene.job(healthy).aggregate_sha256 or "")) == {"n": 7}
    for job_id in (poisoned, wrong_type):
        job = scene.job(job_id)
        assert (job.state, job.error_kind) == (JobState.FAILED, "AGGREGATION")
    assert "input 0" in scene.job(wrong_type).error_message
    assert "OverflowError" in scene.job(poisoned).error_message
    assert scene.job(later[0]).state is JobState.SUCCEEDED  # the aggregator kept working


def test_a_missing_result_blob_is_retried_with_backoff_then_fails_only_its_group(
    scene: Scene,
) -> None:
    machine = scene.contributor(cores=4)
    poisoned = _group(scene, machine, [b'{"n": 1}', b'{"n": 1234567}'])
    healthy = _group(scene, machine, [b'{"n": 3}'])
    scene.blobs.path_of(scene.task(poisoned, 1).result_sha256 or "").unlink()
    retry = FaninRetry(max_failures=3, first_delay_seconds=0.05)
    aggregator = Aggregator(scene.db, scene.blobs, 256 * MiB, retry)

    _run_aggregator_until(aggregator, lambda: _final(scene, poisoned, healthy))

    assert scene.job(healthy).state is JobState.SUCCEEDED
    job = scene.job(poisoned)
    assert (job.state, job.error_kind, job.aggregation_failures) == (
        JobState.FAILED,
        "AGGREGATION",
        3,
    )
    assert "failed 3 times" in job.error_message
    assert "result of input 1" in job.error_message and "missing" in job.error_message


def test_a_failing_fanin_waits_its_backoff_and_its_count_survives_a_restart(
    scene: Scene,
) -> None:
    machine = scene.contributor()
    job_id = _group(scene, machine, [b'{"n": 7654321}'])
    scene.blobs.path_of(scene.task(job_id, 0).result_sha256 or "").unlink()
    retry = FaninRetry(max_failures=2, first_delay_seconds=60)

    assert not Aggregator(scene.db, scene.blobs, 256 * MiB, retry).advance_isolated(job_id)
    job = scene.job(job_id)
    assert (job.state, job.aggregation_failures) == (JobState.AGGREGATING, 1)
    assert job_id not in scene.db.call(aggregating_jobs)  # postponed by its backoff
    later = (job.aggregation_retry_at or utcnow()) + dt.timedelta(seconds=1)
    assert job_id in scene.db.call(aggregating_jobs, later)

    restarted = Aggregator(scene.db, scene.blobs, 256 * MiB, retry)
    assert restarted.advance_isolated(job_id)
    job = scene.job(job_id)
    assert (job.state, job.error_kind) == (JobState.FAILED, "AGGREGATION")
    assert "failed 2 times" in job.error_message


def test_a_stored_result_that_is_not_json_fails_its_group_naming_the_input(scene: Scene) -> None:
    machine = scene.contributor()
    job_id = _group(scene, machine, [b'{"n": 4242}'])
    path = scene.blobs.path_of(scene.task(job_id, 0).result_sha256 or "")
    path.write_bytes(b"{not json")

    assert Aggregator(scene.db, scene.blobs, 256 * MiB).advance_isolated(job_id)

    job = scene.job(job_id)
    assert (job.state, job.error_kind) == (JobState.FAILED, "AGGREGATION")
    assert "input 0 is not strict JSON" in job.error_message


def test_a_sum_that_overflows_to_infinity_fails_its_group_instead_of_sending_infinity(
    scene: Scene,
) -> None:
    options = GroupOptions(aggregate_specs=("n=sum",))
    job_id = scene.submit(scene.consumer(), [b"a", b"b"], options=options)
    machine = scene.contributor(cores=2)
    _finish_inputs(scene, machine, [b'{"n": 1.7e308}', b'{"n": 1.7e308}'])

    assert Aggregator(scene.db, scene.blobs, 256 * MiB).advance_isolated(job_id)

    job = scene.job(job_id)
    assert (job.state, job.error_kind) == (JobState.FAILED, "AGGREGATION")
    assert "cannot finish" in job.error_message
