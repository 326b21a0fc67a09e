"""Probe planning and running: which prefixes of an input to run, within what budget.

A line-oriented input is probed on prefixes of geometrically growing size, cut on line
boundaries so that each is a valid smaller input; the peaks above the harness baseline
are then fitted (``growth``).  A tiny input is simply run whole: the probe is the task,
and its result could be kept.  A large input that is not line-oriented has no valid
smaller version, so the probes say they cannot predict and the estimator falls back.
Who runs a probe is a `ProbeRunner`: the sandbox here (``sandbox_probes``), a contributor
later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from runsurge.estimate.static import InputFeatures

KiB = 1024
MiB = 1024 * KiB


@dataclass(frozen=True)
class ProbeResult:
    """One probe run: its peak (total, baseline included), wall time, and whether it worked."""

    peak_bytes: int
    seconds: float
    ok: bool
    error: str = ""


class ProbeRunner(Protocol):
    """Runs a script on one input in isolation and reports its peak memory."""

    @property
    def baseline_bytes(self) -> int:
        """The peak of an empty script on an empty input: the harness's own cost."""
        ...

    def run(self, script: str, input_bytes: bytes) -> ProbeResult:
        """Run `script`'s process() on `input_bytes` under the probe budget's limits."""
        ...


@dataclass(frozen=True)
class ProbeBudget:
    """What probing one task may cost."""

    whole_input_bytes: int = 1 * MiB  # inputs up to this are run whole
    max_fraction: float = 1 / 64  # the largest prefix, as a share of the input
    min_top_bytes: int = 2 * MiB  # ... but at least this, for a signal above noise
    count: int = 3  # prefixes per input, each half the next
    seconds: float = 10.0  # total probe wall time; later probes are skipped beyond it
    memory_bytes: int = 1024 * MiB  # each probe's memory limit

    def __post_init__(self) -> None:
        if self.count < 3:
            raise ValueError("ProbeBudget.count must be >= 3 to choose a growth shape")
        if not 0 < self.max_fraction < 1:
            raise ValueError("ProbeBudget.max_fraction must be within (0, 1)")


@dataclass(frozen=True)
class ProbePlan:
    """The prefix lengths to run (ascending), or why probes cannot predict this input."""

    prefixes: tuple[int, ...]
    whole: bool = False  # the single prefix is the whole input: the probe is the task
    reason: str = ""  # why there are no prefixes

    @property
    def predicts(self) -> bool:
        """False when probes cannot predict the task's peak."""
        return bool(self.prefixes)


@dataclass(frozen=True)
class ProbeRun:
    """The plan as executed: (prefix length, result) pairs and total time."""

    plan: ProbePlan
    results: tuple[tuple[int, ProbeResult], ...] = field(default=())

    @property
    def seconds(self) -> float:
        """Wall time spent probing."""
        return sum(result.seconds for _, result in self.results)

    def points(self, baseline_bytes: int) -> list[tuple[float, float]]:
        """(size, peak above baseline) of each successful probe."""
        return [
            (float(size), float(max(0, r.peak_bytes - baseline_bytes)))
            for size, r in self.results
            if r.ok
        ]


def plan_probes(data: bytes, features: InputFeatures, budget: ProbeBudget) -> ProbePlan:
    """Choose the prefixes to probe for this input."""
    if features.size <= budget.whole_input_bytes:
        return ProbePlan((features.size,), whole=True)
    if not features.line_oriented:
        return ProbePlan((), reason="the input is not line-oriented: no prefix is a valid input")
    top = max(int(features.size * budget.max_fraction), budget.min_top_bytes)
    cuts: list[int] = []
    for k in range(budget.count - 1, -1, -1):
        cut = _line_boundary(data, top >> k)
        if cut and cut < features.size and (not cuts or cut > cuts[-1]):
            cuts.append(cut)
    if len(cuts) < 3:
        return ProbePlan((), reason="the input has too few lines for three distinct prefixes")
    return ProbePlan(tuple(cuts))


def run_probes(
    runner: ProbeRunner, script: str, data: bytes, plan: ProbePlan, budget: ProbeBudget
) -> ProbeRun:
    """Run the plan's prefixes smallest first; stop at a failure or when the budget is spent."""
    results: list[tuple[int, ProbeResult]] = []
    spent = 0.0
    for size in plan.prefixes:
        if spent >= budget.seconds:
            break
        result = runner.run(script, data[:size])
        results.append((size, result))
        spent += result.seconds
        if not result.ok:
            break  # a bigger prefix of the same input will not do better
    return ProbeRun(plan, tuple(results))


def _line_boundary(data: bytes, approx: int) -> int:
    """The end of the line that contains offset `approx` (a prefix of whole lines)."""
    if approx <= 0:
        return 0
    end = data.find(b"\n", approx - 1)
    return len(data) if end < 0 else end + 1
