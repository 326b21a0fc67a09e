"""Coverage and tightness of memory estimates, per method (coordinator/estimate_quality.py)."""

from __future__ import annotations

import pytest

from runsurge.coordinator.estimate_quality import read_quality
from runsurge.coordinator.reservations import StartingEstimate
from runsurge.kinds import EstimateSource
from tests.unit.coordinator.scene import MiB, Scene


def test_coverage_and_median_tightness_are_reported_per_method(scene: Scene) -> None:
    history = StartingEstimate(128 * MiB, 100 * MiB, EstimateSource.HISTORY, 0.9)
    prior = StartingEstimate(128 * MiB, 60 * MiB, EstimateSource.STATIC, 0.3)
    # Peaks 50, 80 and 120 MiB against 100 MiB estimates; 90 MiB against a 60 MiB prior.
    scene.run_estimated([(history, 50), (history, 80), (history, 120), (prior, 90)])

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
