"""The estimate itself: a peak, how far to trust it, and which evidence produced it."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Method(enum.StrEnum):
    """Which layer of evidence decided the estimate, strongest first."""

    HISTORY = "history"  # actual peaks of earlier runs of the same script (or group)
    PROBES = "probes"  # sandboxed runs on prefixes of this input, fitted and extrapolated
    STATIC = "static"  # features of the script's source and of the input, a prior only
    DECLARED = "declared"  # nothing predicts it: the consumer's declared maximum


@dataclass(frozen=True)
class Estimate:
    """An upper bound of one task's peak RAM, in bytes, as the sandbox's cgroup counts it.

    `confidence` is the estimator's belief (0..1) that the actual peak stays at or below
    `peak_bytes`; `details` carries the evidence (fitted shape, probe sizes, features)
    for logs and for ``runsurge estimate --json``.
    """

    peak_bytes: int
    confidence: float
    method: Method
    details: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.peak_bytes <= 0:
            raise ValueError(f"Estimate.peak_bytes must be positive, got {self.peak_bytes}")
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"Estimate.confidence must be within 0..1, got {self.confidence}")
