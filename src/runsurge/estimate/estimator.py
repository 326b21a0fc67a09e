"""`Estimator`: history, then probes, then static features, into one rounded upper bound.

Each layer yields a raw peak above the harness baseline, or nothing; the strongest that
yields decides (history > probes > static > the consumer's declared maximum).  A big
allocation that the script makes only under a condition is added unless the evidence
already shows it, since prefixes and earlier inputs may never have met the condition.
The raw total is widened by the margin calibrated for that method, rounded up to a
coarse step, and capped at ``declared_max`` (the consumer's ``--memory``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from runsurge.estimate.growth import NOISE_BYTES, fit_growth
from runsurge.estimate.history import History, HistoryPoints, Observation
from runsurge.estimate.margin import Margin
from runsurge.estimate.model import Estimate, Method
from runsurge.estimate.probes import ProbeBudget, ProbeRunner, plan_probes, run_probes
from runsurge.estimate.rounding import round_up
from runsurge.estimate.static import (
    HARNESS_BYTES_PER_INPUT_BYTE,
    InputBytes,
    InputFeatures,
    ScriptFeatures,
    describe_input,
    read_script,
)
from runsurge.estimate.static import static_prior as _static_prior

MiB = 1024 * 1024
EXACT_MATCH = 0.05  # a history point within 5 % of the target's x is the same size


@dataclass(frozen=True)
class EstimatorConfig:
    """Tunables; the defaults are what the benchmark corpus was measured with."""

    budget: ProbeBudget = field(default_factory=ProbeBudget)
    history_reach: float = 2.0  # history alone decides up to this multiple of its largest x
    baseline_bytes: int = 8 * MiB  # the harness's own peak, when no probe runner measures it
    min_step: int = MiB // 4  # with 8 steps per doubling: 512 KiB steps from 4 MiB
    steps_per_doubling: int = 8


@dataclass(frozen=True)
class _Evidence:
    """One layer's answer: a raw peak above baseline and how far to trust it."""

    above_baseline: float
    method: Method
    confidence: float
    details: dict[str, object]
    absolute: bool = False  # `above_baseline` is a total peak (a whole-task probe)


class Estimator:
    """Predicts a task's peak RAM and learns from the peaks that tasks actually reach."""

    def __init__(
        self,
        runner: ProbeRunner | None = None,
        config: EstimatorConfig | None = None,
        history: History | None = None,
        margins: dict[str, Margin] | None = None,
    ) -> None:
        """`margins` replaces the per-method priors, e.g. with ones calibrated elsewhere."""
        self._runner = runner
        self._config = config or EstimatorConfig()
        self.history = history or History()
        # One margin per kind of evidence, each calibrated by its own outcomes.
        self.margins = {
            "history": Margin(prior=1.10),
            "probes": Margin(prior=1.05),
            "probe-is-task": Margin(prior=1.05),
            "static": Margin(prior=1.5),
            "declared": Margin(prior=1.0, floor=1.0),
        }
        self.margins.update(margins or {})

    @property
    def baseline_bytes(self) -> int:
        """The harness's peak on an empty script, measured by the probe runner if there is one."""
        return self._runner.baseline_bytes if self._runner else self._config.baseline_bytes

    def estimate(
        self,
        script: str,
        data: InputBytes,
        script_hash: str = "",
        group: str = "",
        declared_max: int | None = None,
    ) -> Estimate:
        """An upper bound of the peak of `script` on `data`, never above `declared_max`."""
        if declared_max is not None and declared_max <= 0:
            raise ValueError(f"declared_max must be positive, got {declared_max}")
        features, target = read_script(script), describe_input(data)
        # A tiny input is run whole first: the probe is the task, exact where history
        # of other inputs only approximates (a flag in this input, say).
        tiny = target.size <= self._config.budget.whole_input_bytes
        evidence = (
            (self._from_probes(script, data, target, features) if tiny else None)
            or self._from_history(script_hash, group, target)
            or (None if tiny else self._from_probes(script, data, target, features))
            or self._from_static(features, target, declared_max)
        )
        sizes = evidence.details.get("probe_sizes")
        probed = data[: max(sizes)] if isinstance(sizes, list) and sizes else b""
        evidence = _with_conditional_allocation(evidence, features, data, probed)
        return self._finish(evidence, target.size, declared_max)

    def estimate_from_history(
        self,
        script_hash: str,
        target: InputFeatures,
        group: str = "",
        declared_max: int | None = None,
    ) -> Estimate | None:
        """The history layer alone, for an input known by its features (size, number).

        For a scheduler re-estimating queued tasks without reading their inputs: None
        when the history of the group or script says nothing about an input like this
        one (none yet, too few sizes, or the input far beyond the largest seen).
        """
        evidence = self._from_history(script_hash, group, target)
        if evidence is None:
            return None
        return self._finish(evidence, target.size, declared_max)

    def estimate_static(
        self, features: ScriptFeatures, target: InputFeatures, declared_max: int | None = None
    ) -> Estimate:
        """The static prior alone (or the declared maximum), for an input known by its features.

        For a coordinator that must not run the script: no probes, no history.
        """
        evidence = self._from_static(features, target, declared_max)
        evidence = _with_conditional_allocation_features(evidence, features)
        return self._finish(evidence, target.size, declared_max)

    def observe(
        self,
        script_hash: str,
        data: InputBytes,
        actual_peak: int,
        estimate: Estimate,
        group: str = "",
    ) -> None:
        """Learn from a finished task: its peak joins the history, its ratio the margin."""
        target = describe_input(data)
        self.history.record(
            script_hash, Observation(target.size, target.numeric_value, actual_peak), group
        )
        raw, key = estimate.details.get("raw_bytes"), estimate.details.get("margin_key")
        if isinstance(raw, int) and isinstance(key, str) and key in self.margins:
            self.margins[key].observe(actual_peak, raw)

    def _from_history(
        self, script_hash: str, group: str, target: InputFeatures
    ) -> _Evidence | None:
        if not script_hash:
            return None
        # Finished tasks' peaks are fitted whole (the curve's intercept is their baseline):
        # they ran as tasks, cold or warm, not under the probes' warm baseline.
        history = self.history.points(script_hash, target, 0, group)
        if history is None:
            return None
        x = _x_of(target, history)
        nearest = history.nearest_x(x)
        if abs(nearest - x) <= EXACT_MATCH * max(x, 1.0):
            peak = max(y for px, y in history.points if px == nearest)
            details = {"history_points": len(history.points), "axis": history.axis, "exact": True}
            return _Evidence(peak + NOISE_BYTES, Method.HISTORY, 0.97, details, absolute=True)
        details = {"history_points": len(history.points), "axis": history.axis}
        inside = history.interpolate(x)
        if inside is not None:
            details["interpolated"] = True
            return _Evidence(inside + NOISE_BYTES, Method.HISTORY, 0.9, details, absolute=True)
        largest = max(px for px, _ in history.points)
        if len({px for px, _ in history.points}) < 3 or x > self._config.history_reach * largest:
            return None  # too little, or too far beyond what finished tasks showed
        fit = fit_growth(history.points)
        details["shape"] = fit.curve.shape.value
        details["plausible"] = [c.shape.value for c in fit.plausible]
        details["largest_point_bytes"] = fit.max_y
        confidence = 0.8 if fit.uncertain else 0.95
        return _Evidence(fit.upper_bound(x), Method.HISTORY, confidence, details, absolute=True)

    def _from_probes(
        self, script: str, data: InputBytes, target: InputFeatures, features: ScriptFeatures
    ) -> _Evidence | None:
        if self._runner is None or features.syntax_error:
            return None
        budget = self._config.budget
        plan = plan_probes(data, target, budget)
        if not plan.predicts:
            return None
        probes = run_probes(self._runner, script, data, plan, budget)
        details: dict[str, object] = {
            "probe_sizes": [size for size, _ in probes.results],
            "probe_seconds": probes.seconds,
            "baseline_bytes": self.baseline_bytes,
        }
        task_seconds = probes.task_seconds(target.size)
        if task_seconds is not None:
            details["task_seconds"] = round(task_seconds, 4)
        if plan.whole:
            result = probes.results[0][1]
            if not result.ok:
                details["probe_failed"] = result.error
                return None
            details["probe_is_task"] = True
            # The same run again varies by about half the noise of unrelated runs.
            peak = result.peak_bytes + NOISE_BYTES / 2
            return _Evidence(peak, Method.PROBES, 0.95, details, absolute=True)
        points = probes.points(self.baseline_bytes)
        if len({x for x, _ in points}) < 3:
            details["probe_failed"] = next((r.error for _, r in probes.results if not r.ok), "")
            return None
        fit = fit_growth(points)
        reach = target.size / max(x for x, _ in points)
        details["shape"] = fit.curve.shape.value
        details["plausible"] = [c.shape.value for c in fit.plausible]
        details["extrapolation"] = round(reach, 1)
        details["largest_point_bytes"] = fit.max_y
        confidence = 0.9 - (0.2 if fit.uncertain else 0.0) - (0.1 if reach > 100 else 0.0)
        if features.size_from_input:
            confidence = min(confidence, 0.4)
        return _Evidence(fit.upper_bound(target.size), Method.PROBES, confidence, details)

    def _from_static(
        self, features: ScriptFeatures, target: InputFeatures, declared_max: int | None
    ) -> _Evidence:
        details: dict[str, object] = {"whole_input_ops": sorted(features.whole_input_ops)}
        if features.syntax_error:
            details["syntax_error"] = features.syntax_error
        unpredictable = features.size_from_input or not target.line_oriented
        if declared_max is not None and unpredictable:
            details["reason"] = "neither the input's size nor probes predict this script's peak"
            return _Evidence(float(declared_max), Method.DECLARED, 0.2, details)
        return _Evidence(float(_static_prior(features, target)), Method.STATIC, 0.3, details)

    def _finish(self, evidence: _Evidence, input_size: int, declared_max: int | None) -> Estimate:
        details = dict(evidence.details)
        if evidence.method is Method.DECLARED or evidence.absolute:
            raw = int(evidence.above_baseline)  # a total already: declared, run, or history
        else:
            raw = int(self.baseline_bytes + evidence.above_baseline)
            # Whatever a fit of small prefixes says, the harness holds the rest of the
            # input twice on top of what the largest prefix showed.
            seen = evidence.details.get("largest_point_bytes", 0.0)
            sizes = evidence.details.get("probe_sizes") or [0]
            probed = max(sizes) if isinstance(sizes, list) else 0
            rest = HARNESS_BYTES_PER_INPUT_BYTE * max(input_size - probed, 0)
            floor = int(self.baseline_bytes + (seen if isinstance(seen, float) else 0) + rest)
            if raw < floor:
                raw, details["harness_floor"] = floor, True
        key = "probe-is-task" if details.get("probe_is_task") else evidence.method.value
        margin = self.margins[key]
        config = self._config
        peak = round_up(margin.apply(raw), config.min_step, config.steps_per_doubling)
        confidence = evidence.confidence
        details |= {"raw_bytes": raw, "margin": round(margin.factor, 3), "margin_key": key}
        if declared_max is not None and peak > declared_max:
            details["needs_bytes"] = peak  # what the evidence says it needs, above the cap
            peak, confidence = declared_max, min(confidence, 0.5)
        return Estimate(peak, confidence, evidence.method, details)


def _x_of(target: InputFeatures, history: HistoryPoints) -> float:
    if history.axis == "value" and target.numeric_value is not None:
        return target.numeric_value
    return float(target.size)


def _with_conditional_allocation_features(
    evidence: _Evidence, features: ScriptFeatures
) -> _Evidence:
    """A static prior already counts every conditional allocation: mark it content-dependent."""
    if not features.conditional_allocations or evidence.method is Method.DECLARED:
        return evidence
    return _Evidence(
        evidence.above_baseline,
        evidence.method,
        min(evidence.confidence, 0.4),
        evidence.details | {"content_dependent": True},
        evidence.absolute,
    )


def _with_conditional_allocation(
    evidence: _Evidence, features: ScriptFeatures, data: InputBytes, probed: bytes
) -> _Evidence:
    """Add a big allocation made only under a condition unless the evidence ran it.

    A whole-input probe ran the real condition; prefix probes ran it when the largest
    prefix already contains the guard's literal.  Otherwise the allocation is added
    unless its guard looks for a literal that the input does not contain.
    """
    if not features.conditional_allocations or evidence.method is Method.DECLARED:
        return evidence
    if evidence.details.get("probe_is_task"):
        return evidence
    extra = features.possible_conditional_bytes(data) - features.possible_conditional_bytes(probed)
    details = evidence.details | {"content_dependent": True}
    if extra <= 0:
        return _Evidence(
            evidence.above_baseline,
            evidence.method,
            min(evidence.confidence, 0.7),
            details,
            evidence.absolute,
        )
    return _Evidence(
        evidence.above_baseline + extra,
        evidence.method,
        min(evidence.confidence, 0.4),
        details | {"conditional_bytes": extra},
        evidence.absolute,
    )
