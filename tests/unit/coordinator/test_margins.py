"""Margins calibrated from the coordinator's own record (coordinator/margins.py)."""

from __future__ import annotations

import pytest

from runsurge.coordinator.margins import calibrated_margins
from runsurge.coordinator.reservations import StartingEstimate
from runsurge.estimate import Estimator
from runsurge.kinds import EstimateSource
from tests.unit.coordinator.scene import MiB, Scene


def _run_estimated(
    scene: Scene, source: EstimateSource, raw_mib: int, peaks_mib: list[int]
) -> None:
    """A group whose tasks had `source` estimates of `raw_mib` raw, finishing at these peaks."""
    start = StartingEstimate(512 * MiB, 2 * raw_mib * MiB, source, 0.9, raw_mib * MiB)
    scene.run_estimated([(start, peak) for peak in peaks_mib])


def test_with_no_record_the_margins_are_the_estimators_priors(scene: Scene) -> None:
    margins = scene.db.call(calibrated_margins)
    priors = Estimator().margins
    assert {k: m.factor for k, m in margins.items()} == {k: m.factor for k, m in priors.items()}


def test_peaks_above_their_raw_history_estimates_widen_the_history_margin_only(
    scene: Scene,
) -> None:
    _run_estimated(scene, EstimateSource.HISTORY, 100, [140] * 20)  # 1.4x the raw estimate
    margins = scene.db.call(calibrated_margins)
    assert margins["history"].factor == pytest.approx(1.4)
    assert margins["static"].factor == Estimator().margins["static"].factor


def test_peaks_well_below_their_raw_static_estimates_narrow_it_as_evidence_grows(
    scene: Scene,
) -> None:
    _run_estimated(scene, EstimateSource.STATIC, 100, [40] * 30)  # 0.4x: a loose prior
    factor = scene.db.call(calibrated_margins)["static"].factor
    assert 1.05 <= factor < Estimator().margins["static"].factor
