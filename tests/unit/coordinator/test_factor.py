"""Machine-factor verification over a real database: claims are paid as far as tasks show."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest
from sqlalchemy import update

from runsurge.billing import factor
from runsurge.billing.benchmark import BASELINE_PARTS, BenchmarkResult
from runsurge.billing.factor import FactorRules, machine_factor_of
from runsurge.store.models import Attempt, MachineFactorClaim
from tests.unit.coordinator.scene import Scene

RULES = FactorRules(unverified_cap=2.0, tolerance=1.5, min_evidence=5)


def _benchmark(times: float) -> BenchmarkResult:
    """A benchmark `times` as fast as the BASELINE in every part."""
    return BenchmarkResult({k: v * times for k, v in BASELINE_PARTS.items()}, 2, 5.0)


def _run_tasks(scene: Scene, job_id: str, contributor_id: str, n: int, wall: float) -> None:
    """The contributor runs n of the job's tasks, each taking `wall` seconds."""
    for _ in range(n):
        assignment = scene.claimed(contributor_id)
        scene.report(contributor_id, assignment.attempt_id)
        scene.db.call(
            lambda s, a=assignment.attempt_id: s.execute(
                update(Attempt).where(Attempt.id == a).values(wall_seconds=wall)
            )
        )


def _claim(scene: Scene, contributor_id: str, times: float) -> factor.Verification:
    return scene.db.call(factor.record_claim, contributor_id, _benchmark(times), RULES)


def test_a_10x_claim_running_at_1x_speed_is_flagged_and_paid_the_observed_factor(
    scene: Scene, caplog: pytest.LogCaptureFixture
) -> None:
    consumer = scene.consumer()
    honest, boaster = scene.contributor("honest"), scene.contributor("boaster")
    _claim(scene, honest, 1.0)
    job = scene.submit(consumer, [b"%06d" % i for i in range(12)])
    _run_tasks(scene, job, honest, 6, wall=2.0)
    _run_tasks(scene, job, boaster, 6, wall=2.0)  # the same speed as the 1x node
    with caplog.at_level(logging.WARNING, logger="runsurge.billing.factor"):
        outcome = _claim(scene, boaster, 10.0)
    assert outcome.claimed == Decimal("10.000000")
    assert outcome.flagged
    assert outcome.observed == Decimal("1.000000")
    assert scene.db.call(machine_factor_of, boaster) == Decimal("1.000000")
    row = scene.contributor_row(boaster)
    assert row.factor_flagged
    assert "claims 10.00x but its tasks run at 1.00x (6 tasks)" in row.factor_note
    assert f"contributor {boaster} flagged" in caplog.text
    assert scene.db.call(machine_factor_of, honest) == Decimal("1.000000")


def test_a_claim_its_tasks_bear_out_is_paid_as_claimed(scene: Scene) -> None:
    consumer = scene.consumer()
    base, fast = scene.contributor("base"), scene.contributor("fast")
    _claim(scene, base, 1.0)
    job = scene.submit(consumer, [b"%06d" % i for i in range(12)])
    _run_tasks(scene, job, base, 6, wall=3.0)
    _run_tasks(scene, job, fast, 6, wall=1.0)  # really 3x as fast
    outcome = _claim(scene, fast, 3.2)
    assert not outcome.flagged
    assert outcome.observed == Decimal("3.000000")
    assert scene.db.call(machine_factor_of, fast) == Decimal("3.200000")


def test_without_enough_evidence_a_large_claim_is_capped_not_flagged(scene: Scene) -> None:
    newcomer = scene.contributor("new")
    outcome = _claim(scene, newcomer, 10.0)
    assert (outcome.flagged, outcome.verified) == (False, Decimal("2.000000"))
    assert "unverified (0 of 5 comparable tasks): paid at most 2.00x" in outcome.note
    assert scene.db.call(machine_factor_of, newcomer) == Decimal("2.000000")


def test_inputs_of_another_size_or_script_are_no_evidence(scene: Scene) -> None:
    consumer = scene.consumer()
    base, boaster = scene.contributor("base"), scene.contributor("boaster")
    _claim(scene, base, 1.0)
    small = scene.submit(consumer, [b"x" * 10] * 6)
    _run_tasks(scene, small, base, 6, wall=2.0)
    larger = scene.submit(consumer, [b"x" * 13] * 3)  # 1.3x the size: not similar
    _run_tasks(scene, larger, boaster, 3, wall=2.0)
    other = scene.submit(consumer, [b"x" * 10] * 3, script=b"def process(d):\n    return {}\n")
    _run_tasks(scene, other, boaster, 3, wall=2.0)
    outcome = _claim(scene, boaster, 10.0)
    assert (outcome.evidence, outcome.flagged, outcome.verified) == (0, False, Decimal("2.000000"))


def test_every_claim_is_kept_as_history(scene: Scene) -> None:
    contributor = scene.contributor()
    _claim(scene, contributor, 1.0)
    _claim(scene, contributor, 1.1)
    history = scene.db.call(factor.claims_of, contributor)
    assert [c.claimed_factor for c in history] == [Decimal("1.100000"), Decimal("1.000000")]
    assert history[0].parts["integer"] == pytest.approx(1.1 * BASELINE_PARTS["integer"])
    rows = scene.db.call(lambda s: s.query(MachineFactorClaim).count())
    assert rows == 2


def test_an_unknown_contributor_is_paid_the_baseline(scene: Scene) -> None:
    assert scene.db.call(machine_factor_of, "nobody") == Decimal("1.000000")


@pytest.mark.parametrize(
    ("claimed", "observed", "evidence", "verified", "flagged"),
    [
        ("1.4", 1.0, 5, "1.400000", False),  # within the tolerance
        ("1.6", 1.0, 5, "1.000000", True),  # beyond it: the observed ratio
        ("0.8", 2.0, 5, "0.800000", False),  # evidence never raises a claim
        ("3.0", 1.0, 4, "2.000000", False),  # too little evidence: the cap
    ],
)
def test_judge_pays_the_claim_within_tolerance_and_the_evidence_beyond(
    claimed: str, observed: float, evidence: int, verified: str, flagged: bool
) -> None:
    outcome = factor.judge(Decimal(claimed), observed, evidence, RULES)
    assert (outcome.verified, outcome.flagged) == (Decimal(verified), flagged)
