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

from runsurge.estimate.static import InputBytes, InputFeatures

KiB = 1024
MiB = 1024 * KiB


@dataclass(frozen=True)
class ProbeResult:
    """One probe run: its peak (total, baseline included), wall time, and whether it worked."""

    peak_bytes: int
    seconds: float
    ok: bool
    error: str = ""
    # The task's result, when the probe was the whole task: the task need not run again.
    result_json: bytes | None = None


class ProbeRunner(Protocol):
    """Runs a script on one input in isolation and reports its peak memory."""

    @property
    def baseline_bytes(self) -> int:
        """The peak of an empty script on an empty input: the harness's own cost."""
        ...

    def run(self, script: str, input_bytes: bytes, whole_task: bool = False) -> ProbeResult:
        """Run `script`'s process() on `input_bytes` under the probe budget's limits.

        `whole_task` says the input is the task's whole input: run it as the task would
        run (its peak then needs no baseline); otherwise it is a prefix, which may reuse
        a warm session of the same script.
        """
        ...


@dataclass(frozen=True)
class ProbeBudget:
    """What probing one task may cost, and how much signal it should seek."""

    whole_input_bytes: int = 1 * MiB  # inputs up to this are run whole
    pilot_bytes: int = 64 * KiB  # the first prefix: it measures time and memory per byte
    max_fraction: float = 1 / 32  # the largest prefix, as a share of the input
    min_top_bytes: int = 4 * MiB  # ... but it may reach this much, for a signal above noise
    count: int = 3  # distinct prefix sizes probed at least, whatever the time allowance
    growth: int = 2  # each rung of the ladder this many times the previous one
    climb: int = 4  # each probe after the pilot this many times the previous one
    # Probe time, as a share of the task time the pilot predicts, for long tasks; a
    # task predicted shorter than a second may spend `short_task_seconds` on probes.
    time_share: float = 0.05
    short_task_seconds: float = 0.3
    memory_bytes: int = 1024 * MiB  # each probe's memory limit

    def __post_init__(self) -> None:
        if self.count < 3:
            raise ValueError("ProbeBudget.count must be >= 3 to choose a growth shape")
        if not 0 < self.max_fraction < 1:
            raise ValueError("ProbeBudget.max_fraction must be within (0, 1)")
        if self.growth < 2:
            raise ValueError("ProbeBudget.growth must be >= 2")

    def allowance(self, predicted_task_seconds: float) -> float:
        """Seconds the probes of a task predicted to take this long may spend."""
        if predicted_task_seconds < 1.0:
            return self.short_task_seconds
        return self.time_share * predicted_task_seconds


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
        """Wall time spent probing (sandbox start included)."""
        return sum(result.seconds for _, result in self.results)

    def task_seconds(self, input_size: int) -> float | None:
        """The task's wall time the probes predict: the run itself, or the largest
        successful prefix's time per byte over the whole input (an overestimate for
        linear work: it holds a run's fixed cost; an underestimate for worse)."""
        done = [(size, r) for size, r in self.results if r.ok and size > 0]
        if not done:
            return None
        size, result = max(done, key=lambda pair: pair[0])
        return result.seconds if self.plan.whole else result.seconds / size * input_size

    def points(self, baseline_bytes: int) -> list[tuple[float, float]]:
        """(size, peak above baseline) of each successful probe."""
        return [
            (float(size), float(max(0, r.peak_bytes - baseline_bytes)))
            for size, r in self.results
            if r.ok
        ]


def plan_probes(data: InputBytes, features: InputFeatures, budget: ProbeBudget) -> ProbePlan:
    """The ladder of prefixes that may be probed: the pilot, then doubling up to the top.

    `run_probes` runs the pilot and then only the few largest rungs that its signal and
    time allow.
    """
    if features.size <= budget.whole_input_bytes:
        return ProbePlan((features.size,), whole=True)
    if not features.line_oriented:
        return ProbePlan((), reason="the input is not line-oriented: no prefix is a valid input")
    top = max(int(features.size * budget.max_fraction), budget.min_top_bytes)
    cuts: list[int] = []
    approx = budget.pilot_bytes
    while approx <= top:
        cut = _line_boundary(data, approx)
        if cut >= features.size:
            break
        if not cuts or cut > cuts[-1]:
            cuts.append(cut)
        approx *= budget.growth
    if len(cuts) < 3:
        return ProbePlan((), reason="the input has too few lines for three distinct prefixes")
    return ProbePlan(tuple(cuts))


def run_probes(
    runner: ProbeRunner, script: str, data: InputBytes, plan: ProbePlan, budget: ProbeBudget
) -> ProbeRun:
    """Run the pilot, then climb the ladder while the time allowance permits.

    Larger prefixes show growth above the noise and extrapolate less, so probes climb
    as high as the allowance (a share of the task time the latest probe predicts)
    permits; at least three sizes are always probed, whatever the allowance: fewer
    cannot choose a shape.
    """
    if not plan.prefixes:
        return ProbeRun(plan)
    pilot = plan.prefixes[0]
    result = runner.run(script, data[:pilot], whole_task=plan.whole)
    results = [(pilot, result)]
    if plan.whole or not result.ok:
        return ProbeRun(plan, tuple(results))
    # The first run of a script pays for starting the sandbox and importing it.
    spent, previous = result.seconds, pilot
    ladder = list(plan.prefixes[1:])
    while ladder:
        # The latest run's time per byte (an overestimate: it holds a run's fixed cost)
        # predicts both the task's time and each rung's.
        seconds_per_byte = max(result.seconds, 1e-6) / previous
        left = budget.allowance(seconds_per_byte * len(data)) - spent
        # Climb at most `climb` times per step, as high as the time left permits.
        fitting = [
            rung
            for rung in ladder
            if seconds_per_byte * rung <= left and rung <= previous * budget.climb + 64
        ]
        if fitting:
            size = fitting[-1]
        elif len({r[0] for r in results}) < budget.count:
            size = ladder[0]  # over the allowance, but fewer sizes cannot choose a shape
        else:
            break
        result = runner.run(script, data[:size])
        results.append((size, result))
        spent, previous = spent + result.seconds, size
        ladder = [rung for rung in ladder if rung > size]
        if not result.ok:
            break  # a bigger prefix of the same input will not do better
    return ProbeRun(plan, tuple(results))


def _line_boundary(data: InputBytes, approx: int) -> int:
    """The end of the line that contains offset `approx` (a prefix of whole lines)."""
    if approx <= 0:
        return 0
    end = data.find(b"\n", approx - 1)
    return len(data) if end < 0 else end + 1
