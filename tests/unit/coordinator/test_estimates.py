"""Re-estimating a group's queued tasks from its finished ones (coordinator/estimates.py)."""

from __future__ import annotations

import dataclasses

from runsurge.coordinator import estimates
from tests.unit.coordinator.scene import MiB, Scene

DEFAULT = 512 * MiB


def _finish(scene: Scene, machine: str, peaks_mib: list[int]) -> None:
    """Claim and succeed the next tasks in input order, each at the given peak."""
    for peak in peaks_mib:
        attempt = scene.claimed(machine)
        scene.report(machine, attempt.attempt_id, average_memory_bytes=peak * MiB)


def test_numbers_are_estimated_by_value_and_an_input_beyond_history_keeps_its_reservation(
    scene: Scene,
) -> None:
    # Memory grows with the number in the input, not with its (equal) length.
    inputs = [b"1000", b"2000", b"4000", b"3000", b"99999"]
    job_id = scene.submit(scene.consumer(), inputs, reservation=DEFAULT)
    machine = scene.contributor()
    _finish(scene, machine, [30, 60, 120])
    facts = scene.db.call(estimates.group_due, job_id)
    assert facts is None  # 3 successes: not a power of two, nothing to do yet

    job = scene.job(job_id)
    facts = estimates.GroupFacts(job_id, job.consumer_id, job.script_sha256, 4, 0)
    finished = scene.db.call(estimates.finished_of_script, facts.consumer_id, facts.script_sha256)
    queued = scene.db.call(estimates.queued_unrun, job_id)
    planned = estimates.plan(facts, finished, queued, scene.blobs)
    scene.db.call(estimates.apply, job_id, planned)

    between = scene.task(job_id, 3).memory_reservation_bytes  # "3000"
    assert 90 * MiB <= between < DEFAULT, between // MiB
    assert scene.task(job_id, 4).memory_reservation_bytes == DEFAULT  # "99999": unknown


def test_a_jobs_memory_limit_caps_a_re_estimate(scene: Scene) -> None:
    job_id = scene.submit(scene.consumer(), [b"a" * 10] * 3, reservation=160 * MiB)
    machine = scene.contributor()
    _finish(scene, machine, [150])  # history: 150 MiB, plus margin: above 160 MiB
    facts = scene.db.call(estimates.group_due, job_id)
    assert facts is not None
    limited = dataclasses.replace(facts, memory_limit_bytes=160 * MiB)
    finished = scene.db.call(estimates.finished_of_script, facts.consumer_id, facts.script_sha256)
    queued = scene.db.call(estimates.queued_unrun, job_id)
    unlimited = estimates.plan(facts, finished, queued, scene.blobs)
    assert {p.reservation_bytes for p in unlimited.values()} == {176 * MiB}
    capped = estimates.plan(limited, finished, queued, scene.blobs)
    assert {p.reservation_bytes for p in capped.values()} == {160 * MiB}


def test_recalibration_is_due_at_powers_of_two_up_to_its_limit() -> None:
    assert [n for n in range(0, 70) if estimates.due(n)] == [1, 2, 4, 8, 16, 32, 64]


def test_another_consumers_peaks_on_the_same_script_never_shape_a_reservation(
    scene: Scene,
) -> None:
    other, mine = scene.consumer(), scene.consumer()
    theirs = scene.submit(other, [b"x" * 10] * 2, reservation=DEFAULT)
    machine = scene.contributor()
    _finish(scene, machine, [300])  # their input used 300 MiB
    ours = scene.submit(mine, [b"x" * 10] * 2, reservation=DEFAULT)  # the same script
    job = scene.job(ours)
    assert job.script_sha256 == scene.job(theirs).script_sha256
    facts = estimates.GroupFacts(ours, mine, job.script_sha256, 1, 0)
    assert scene.db.call(estimates.finished_of_script, facts.consumer_id, facts.script_sha256) == []
