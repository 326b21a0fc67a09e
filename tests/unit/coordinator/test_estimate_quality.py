"""Coverage and tightness of memory estimates, per method (coordinator/estimate_quality.py)."""

from __future__ import annotations

import pytest

from runsurge.coordinator import jobs
from runsurge.coordinator.estimate_quality import read_quality
from runsurge.coordinator.reservations import StartingEstimate
from runsurge.kinds import EstimateSource, JobKind, OutcomeKind
from tests.unit.coordinator.scene import MiB, Scene


def test_coverage_and_median_tightness_are_reported_per_method(scene: Scene) -> None:
    consumer = scene.consumer()
    script = scene.blobs.put(b"def process(input_data):\n    return {}\n")
    job_id = scene.db.call(
        lambda s: jobs.create_job(
            s,
            consumer,
            kind=JobKind.GROUP,
            name="q",
            script_sha256=script.sha256,
            script_name="q.py",
        )
    )
    refs = [scene.blobs.put(f"input {i}".encode()) for i in range(4)]
    starts = [
        StartingEstimate(128 * MiB, 100 * MiB, EstimateSource.HISTORY, 0.9),
        StartingEstimate(128 * MiB, 100 * MiB, EstimateSource.HISTORY, 0.9),
        StartingEstimate(128 * MiB, 100 * MiB, EstimateSource.HISTORY, 0.9),
        StartingEstimate(128 * MiB, 60 * MiB, EstimateSource.STATIC, 0.3),
    ]
    scene.db.call(jobs.add_tasks, job_id, 0, refs, 0, starts)
    scene.db.call(jobs.seal_job, job_id, len(refs), scene.billing)
    machine = scene.contributor()
    # Peaks 50, 80 and 120 MiB against 100 MiB estimates; 90 MiB against a 60 MiB prior.
    for peak in (50, 80, 120, 90):
        attempt = scene.claimed(machine)
        scene.report(machine, attempt.attempt_id, OutcomeKind.OK, average_memory_bytes=peak * MiB)

    quality = scene.db.call(read_quality)
    history, static = quality["history"], quality["static"]
    assert history.tasks == 3 and history.coverage == pytest.approx(2 / 3)
    assert history.median_ratio == pytest.approx(100 / 80)
    assert static.tasks == 1 and static.coverage == 0.0
    assert static.median_ratio == pytest.approx(60 / 90)


def test_tasks_without_an_estimate_or_a_success_do_not_count(scene: Scene) -> None:
    scene.submit(scene.consumer(), [b"x"])  # the default: no estimate
    machine = scene.contributor()
    attempt = scene.claimed(machine)
    scene.report(machine, attempt.attempt_id)
    assert scene.db.call(read_quality) == {}
