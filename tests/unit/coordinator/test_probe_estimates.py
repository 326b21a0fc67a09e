"""Probe estimates from contributors: asked for when nothing measured, taken only if asked."""

from __future__ import annotations

from runsurge.coordinator.views import ProbeEstimate
from runsurge.kinds import EstimateSource, OutcomeKind
from runsurge.store.states import TaskState
from tests.unit.coordinator.scene import MiB, Scene

LARGE = b"a line of input\n" * (128 * 1024)  # 2 MiB: above the 1 MiB run-it-whole size


def test_the_first_attempt_at_a_large_input_with_no_measurement_is_asked_to_probe(
    scene: Scene,
) -> None:
    consumer = scene.consumer()
    scene.submit(consumer, [LARGE], reservation=208 * MiB)
    scene.submit(consumer, [b"small input"], reservation=208 * MiB)
    machine = scene.contributor()
    first, small = scene.claimed(machine), scene.claimed(machine)
    assert first.probe_memory and not small.probe_memory

    scene.report(machine, first.attempt_id, OutcomeKind.INFRASTRUCTURE, result=None)
    retry = scene.claimed(machine)
    assert retry.task_index == first.task_index and not retry.probe_memory


def test_a_predicted_out_of_memory_requeues_with_the_estimate_and_keeps_it(
    scene: Scene,
) -> None:
    job_id = scene.submit(scene.consumer(), [LARGE], reservation=208 * MiB)
    machine = scene.contributor()
    attempt = scene.claimed(machine)
    scene.report(
        machine,
        attempt.attempt_id,
        OutcomeKind.OUT_OF_MEMORY,
        result=None,
        average_memory_bytes=0,
        estimate=ProbeEstimate(330 * MiB, 0.9),
    )
    task = scene.task(job_id, 0)
    assert task.state is TaskState.QUEUED
    assert task.memory_reservation_bytes == 336 * MiB  # the estimate in 16 MiB steps
    assert task.estimate_method is EstimateSource.PROBES
    assert (task.estimate_bytes, task.estimate_confidence) == (330 * MiB, 0.9)


def test_an_estimate_the_coordinator_did_not_ask_for_is_ignored(scene: Scene) -> None:
    # A small input is never probed: a contributor sending an estimate anyway is lying
    # or broken, and must not move the reservation.
    job_id = scene.submit(scene.consumer(), [b"small"], reservation=208 * MiB)
    machine = scene.contributor()
    attempt = scene.claimed(machine)
    assert not attempt.probe_memory
    scene.report(
        machine,
        attempt.attempt_id,
        OutcomeKind.OUT_OF_MEMORY,
        result=None,
        average_memory_bytes=0,
        estimate=ProbeEstimate(3000 * MiB, 1.0),
    )
    task = scene.task(job_id, 0)
    assert task.estimate_method is EstimateSource.DEFAULT
    assert task.memory_reservation_bytes == 416 * MiB  # the usual doubling from the kill


def test_a_reported_estimate_is_bounded(scene: Scene) -> None:
    job_id = scene.submit(scene.consumer(), [LARGE], reservation=208 * MiB)
    machine = scene.contributor()
    attempt = scene.claimed(machine)
    scene.report(machine, attempt.attempt_id, estimate=ProbeEstimate(1, float("nan")))
    task = scene.task(job_id, 0)
    assert task.state is TaskState.SUCCEEDED
    assert task.estimate_bytes == 32 * MiB  # at least what a task needs to start
    assert task.estimate_confidence == 0.0
