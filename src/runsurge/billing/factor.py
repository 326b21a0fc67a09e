"""The machine factor a charge uses: the one function billing asks.

Today it is the contributor's stored benchmark score (the agent reports 1.0); the
verified factor of the benchmark work replaces the body of `machine_factor_of` and
nothing else. Every charge records the factor it used.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from runsurge.billing.pricing import quantize
from runsurge.store.models import Contributor


def machine_factor_of(session: Session, contributor_id: str) -> Decimal:
    """The factor `contributor_id`'s work is priced at, to 6 places (1.0 if unknown)."""
    score = session.scalar(
        select(Contributor.benchmark_score).where(Contributor.id == contributor_id)
    )
    return quantize(Decimal(str(score if score is not None else 1.0)))
