"""A safety margin calibrated from how far actual peaks exceeded earlier predictions.

Each finished task contributes the ratio actual peak / raw prediction (before margin and
rounding).  The margin is a high quantile of those ratios, blended with a prior while
there are few of them and never below a floor: guessed only until it can be measured.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field


@dataclass
class Margin:
    """The factor a raw prediction is multiplied by; one per evidence method."""

    prior: float = 1.15  # overridden per evidence kind by the Estimator (docs/estimator.md)
    floor: float = 1.05  # cgroup accounting noise between two identical runs
    quantile: float = 0.95
    prior_weight: int = 10  # observations the prior counts as
    window: int = 500  # most recent ratios kept
    ratios: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.floor < 1.0 or self.prior < self.floor:
            raise ValueError("Margin needs 1 <= floor <= prior")
        if not 0.5 <= self.quantile < 1.0:
            raise ValueError("Margin.quantile must be within [0.5, 1)")

    def observe(self, actual_bytes: int, predicted_bytes: int) -> None:
        """Record one finished task's actual peak against its raw prediction."""
        if actual_bytes <= 0 or predicted_bytes <= 0:
            return  # nothing measured: a crash before the first sample teaches nothing
        self.ratios.append(actual_bytes / predicted_bytes)
        del self.ratios[: -self.window]

    @property
    def factor(self) -> float:
        """The calibrated factor: the prior's weight shrinks as ratios accumulate."""
        n = len(self.ratios)
        if n < 2:
            measured = max(self.ratios, default=self.prior)
        else:
            cuts = statistics.quantiles(self.ratios, n=100, method="inclusive")
            measured = cuts[min(98, max(0, round(self.quantile * 100) - 1))]
        blended = (self.prior * self.prior_weight + measured * n) / (self.prior_weight + n)
        # A measured quantile above the prior is trusted at once (under-reserving kills
        # tasks); one below it lowers the factor only as evidence accumulates.
        return max(self.floor, blended, measured if n else 0.0)

    def apply(self, raw_bytes: int) -> int:
        """`raw_bytes` widened by the current factor."""
        return int(raw_bytes * self.factor) + 1
