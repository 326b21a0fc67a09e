"""The machine factor a contributor is paid at: its benchmark claim, verified by evidence.

An agent reports benchmark parts (billing/benchmark.py); the coordinator recomputes
the claimed factor from them (never taking the agent's combined number), keeps every
claim as history (`MachineFactorClaim`), and pays the claim only as far as the
contributor's own tasks bear it out (billing/evidence.py: the same script on inputs
of similar size, run by other contributors):

- with at least `min_evidence` comparable tasks, the observed speed ratio decides: a
  claim up to `observed x tolerance` is paid as claimed; a higher one is FLAGGED
  (logged, shown in `runsurge contributors`) and paid at the observed ratio;
- with less evidence, the claim is paid up to `unverified_cap` (2.0 by default): a
  new machine that says it is 10x faster than the BASELINE earns at most 2x until
  its tasks show it.

Evidence only ever lowers a claim: a machine faster than it claims is paid its claim.
`verify` runs at every claim and periodically in the coordinator, and stores the
result on the contributor; `machine_factor_of` reads it, so charging costs one read.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from runsurge.billing import pricing
from runsurge.billing.benchmark import BASELINE_SCORE, BenchmarkResult, score
from runsurge.billing.evidence import observed_speed
from runsurge.store.models import Contributor, MachineFactorClaim

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FactorRules:
    """How far a claim is believed (CoordinatorSettings.factor_*)."""

    unverified_cap: float = 2.0  # paid at most this while evidence is thin
    tolerance: float = 1.5  # a claim up to observed x this is paid as claimed
    min_evidence: int = 5  # comparable tasks needed before evidence decides
    similar_size: float = 1.25  # inputs within this ratio of each other are comparable
    min_seconds: float = 0.05  # shorter tasks are timing noise, not evidence
    window: int = 200  # the contributor's latest tasks that count


@dataclass(frozen=True)
class Verification:
    """What a claim is worth now, and why."""

    claimed: Decimal
    verified: Decimal
    observed: Decimal | None  # the speed ratio its tasks show; None below min_evidence
    evidence: int  # comparable tasks
    flagged: bool
    note: str


@dataclass(frozen=True)
class ClaimRecord:
    """One stored claim (the history `runsurge contributors --json` can show)."""

    at: str
    claimed_factor: Decimal
    parts: dict[str, float]
    cores: int
    seconds: float


def quantize(value: float | Decimal) -> Decimal:
    """A factor as an exact decimal with 6 places, by billing's one rounding rule."""
    return pricing.quantize(Decimal(str(value)))


def claimed_factor(result: BenchmarkResult) -> Decimal:
    """The factor the parts claim, recomputed here (BenchmarkError for bad parts)."""
    return quantize(score(result.parts) / BASELINE_SCORE)


def record_claim(
    session: Session, contributor_id: str, result: BenchmarkResult, rules: FactorRules
) -> Verification:
    """Store a benchmark as the contributor's current claim and in its history; verify it."""
    contributor = session.get(Contributor, contributor_id, with_for_update=True)
    if contributor is None:
        raise LookupError(f"contributor {contributor_id} is not registered")
    claimed = claimed_factor(result)
    session.add(
        MachineFactorClaim(
            contributor_id=contributor_id,
            parts_json=json.dumps(result.parts, sort_keys=True),
            cores=result.cores,
            seconds=result.seconds,
            claimed_factor=claimed,
        )
    )
    contributor.claimed_factor = claimed
    contributor.benchmark_score = float(claimed)
    log.info(
        "contributor %s claims factor %s (benchmark of %.1fs on %d cores)",
        contributor_id,
        claimed,
        result.seconds,
        result.cores,
    )
    return _apply(session, contributor, rules)


def verify(session: Session, contributor_id: str, rules: FactorRules) -> Verification | None:
    """Re-check the contributor's claim against its tasks; store and return the outcome."""
    contributor = session.get(Contributor, contributor_id, with_for_update=True)
    if contributor is None:
        return None
    return _apply(session, contributor, rules)


def judge(
    claimed: Decimal, observed: float | None, evidence: int, rules: FactorRules
) -> Verification:
    """The verified factor of a claim given the observed speed ratio (pure)."""
    if observed is None or evidence < rules.min_evidence:
        cap = quantize(rules.unverified_cap)
        if claimed <= cap:
            return Verification(claimed, claimed, None, evidence, False, "")
        note = (
            f"claims {claimed:.2f}x, unverified ({evidence} of {rules.min_evidence} "
            f"comparable tasks): paid at most {cap:.2f}x"
        )
        return Verification(claimed, cap, None, evidence, False, note)
    seen = quantize(observed)
    if claimed <= quantize(observed * rules.tolerance):
        return Verification(claimed, claimed, seen, evidence, False, "")
    note = (
        f"claims {claimed:.2f}x but its tasks run at {seen:.2f}x "
        f"({evidence} tasks): paid {seen:.2f}x"
    )
    return Verification(claimed, min(claimed, seen), seen, evidence, True, note)


def _apply(session: Session, contributor: Contributor, rules: FactorRules) -> Verification:
    observed, evidence = observed_speed(session, contributor.id, rules)
    outcome = judge(contributor.claimed_factor, observed, evidence, rules)
    if outcome.flagged and not contributor.factor_flagged:
        log.warning("contributor %s flagged: %s", contributor.id, outcome.note)
    elif contributor.factor_flagged and not outcome.flagged:
        log.info("contributor %s no longer flagged: its claim is in line", contributor.id)
    contributor.machine_factor = outcome.verified
    contributor.factor_flagged = outcome.flagged
    contributor.factor_note = outcome.note
    return outcome


def machine_factor_of(session: Session, contributor_id: str) -> Decimal:
    """The verified factor a contributor is paid at now (1 for an unknown contributor).

    A stored factor that is no usable number (zero or negative) prices at 1.0 rather
    than failing the charge or paying nothing.
    """
    value = session.scalar(
        select(Contributor.machine_factor).where(Contributor.id == contributor_id)
    )
    if value is None or not value.is_finite() or value <= 0:
        value = Decimal(1)
    return quantize(value)


def claims_of(session: Session, contributor_id: str, limit: int = 100) -> list[ClaimRecord]:
    """The contributor's latest claims, newest first."""
    rows = session.scalars(
        select(MachineFactorClaim)
        .where(MachineFactorClaim.contributor_id == contributor_id)
        .order_by(MachineFactorClaim.id.desc())
        .limit(limit)
    ).all()
    return [
        ClaimRecord(
            r.at.isoformat(), r.claimed_factor, json.loads(r.parts_json), r.cores, r.seconds
        )
        for r in rows
    ]
