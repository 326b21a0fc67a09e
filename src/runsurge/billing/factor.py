"""The machine factor a charge uses: the one function billing asks.

Today it is the contributor's stored benchmark score (the agent reports 1.0); the
verified factor of the benchmark work replaces the body of `machine_factor_of` and
nothing else. Every charge records the factor it used.
"""

from __future__ import annotations

import math
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from runsurge.billing.pricing import quantize
from runsurge.store.models import Contributor


def machine_factor_of(session: Session, contributor_id: str) -> Decimal:
    """The factor `contributor_id`'s work is priced at, to 6 places (1.0 if unknown).

    A score that is no usable number (NaN, infinite, zero or negative: registration
    stores what the agent sends) prices at 1.0 rather than failing the charge.
    """
    score = session.scalar(
        select(Contributor.benchmark_score).where(Contributor.id == contributor_id)
    )
    if score is None or not math.isfinite(score) or score <= 0:
        score = 1.0
    return quantize(Decimal(str(score)))
