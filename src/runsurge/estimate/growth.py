"""Fit how a peak grows with input size, and extrapolate it with an honest upper bound.

Points are (input size, peak above the harness baseline).  Each candidate shape is
``peak = a + b * f(size)`` with ``a, b >= 0`` and ``f`` one of constant, linear,
n log n and quadratic, fitted by least squares weighted to relative error (probe sizes
grow geometrically, so absolute errors would let the largest point decide alone).  The
shape is chosen by held-out error — refit without the largest point, predict it — since
extrapolation is what the fit is for; the simplest shape within the noise of the best
wins.  The upper bound is the larger prediction of the chosen shape and of the next
steeper one when that predicted the held-out point better, each widened by its worst
in-sample residual or held-out error: where the data lean steeper but noise cannot
confirm it, the bound takes the steeper shape.  When a constant is chosen from points only
a few jitters above baseline, growth proportional to size stays plausible as well.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

MiB = 1024 * 1024
NOISE_BYTES = 1 * MiB  # run-to-run jitter of a cgroup peak of the same run
SIGNAL_FLOOR = 8 * NOISE_BYTES  # the largest point must rise this far for a shape choice
RELATIVE_NOISE = 0.05  # ... and the proportional part (allocator and GC timing)
MAX_RESIDUAL_WIDENING = 0.5


class Shape(enum.StrEnum):
    """A growth law of peak memory against input size, simplest first."""

    CONSTANT = "constant"
    LINEAR = "linear"
    NLOGN = "nlogn"
    QUADRATIC = "quadratic"


_TERMS: dict[Shape, Callable[[float], float]] = {
    Shape.CONSTANT: lambda x: 0.0,
    Shape.LINEAR: lambda x: x,
    Shape.NLOGN: lambda x: x * math.log2(max(x, 2.0)),
    Shape.QUADRATIC: lambda x: x * x,
}


@dataclass(frozen=True)
class Curve:
    """One fitted shape: ``intercept + slope * f(x)``."""

    shape: Shape
    intercept: float
    slope: float

    def __call__(self, x: float) -> float:
        return self.intercept + self.slope * _TERMS[self.shape](x)


@dataclass(frozen=True)
class GrowthFit:
    """The chosen curve, the shapes still plausible, and how well they fit."""

    curve: Curve
    plausible: tuple[Curve, ...]
    held_out_error: float  # relative error of the chosen shape on the held-out point
    residual: float  # worst relative in-sample residual of the chosen curve
    max_x: float
    max_y: float
    # Per plausible curve: how much to widen it (its worst residual or held-out error).
    widening: tuple[float, ...] = ()

    def predict(self, x: float) -> float:
        """The chosen curve's prediction (not a bound)."""
        return max(0.0, self.curve(x))

    def upper_bound(self, x: float) -> float:
        """A conservative bound at `x`: the steepest plausible shape, widened by residuals."""
        widenings = self.widening or (self.residual,) * len(self.plausible)
        # Errors compound with distance: widen more the further beyond the points.
        reach = max(1.0, math.log2(max(x, 1.0) / self.max_x) / 2) if self.max_x > 0 else 1.0
        widened = NOISE_BYTES + max(
            curve(x) * (1.0 + min(w * reach, MAX_RESIDUAL_WIDENING))
            for curve, w in zip(self.plausible, widenings, strict=True)
        )
        # Memory does not shrink as the input grows: never below what was seen below x.
        return max(widened, self.max_y + NOISE_BYTES if x >= self.max_x else 0.0)

    @property
    def uncertain(self) -> bool:
        """True when more than one shape fits the data (the bound then takes the steepest)."""
        return len({c.shape for c in self.plausible}) > 1


def fit_growth(points: Sequence[tuple[float, float]]) -> GrowthFit:
    """Fit every shape to (size, peak) points and choose by held-out error (ValueError if none)."""
    clean = sorted((float(x), max(0.0, float(y))) for x, y in points if x > 0)
    if not clean:
        raise ValueError("fit_growth needs at least one point with a positive size")
    max_x, max_y = clean[-1][0], max(y for _, y in clean)
    if len({x for x, _ in clean}) < 3:
        return _few_points_fit(clean, max_x, max_y)
    errors = {shape: _held_out_error(clean, shape) for shape in Shape}
    best = min(errors.values())
    # Simplest shape within noise of the best: jitter must not buy a steeper law.
    tolerance = NOISE_BYTES / max(clean[-1][1], NOISE_BYTES)
    chosen = next(s for s in Shape if errors[s] <= best + tolerance)
    curves = {shape: _fit(clean, shape) for shape in Shape}
    # The chosen shape, and the next steeper one if it predicted the held-out point
    # better: the data lean that way but noise cannot confirm it.  One step of doubt,
    # not more (noise on small probes must not make linear data quadratic).
    order = list(Shape)
    steeper = order[min(order.index(chosen) + 1, len(order) - 1)]
    kept = [chosen] + [steeper] * (steeper is not chosen and errors[steeper] < errors[chosen])
    plausible = [curves[s] for s in kept]
    widening = [max(_worst_residual(clean, curves[s]), errors[s]) for s in kept]
    if chosen is Shape.CONSTANT and clean[-1][1] < SIGNAL_FLOOR:
        # A flat fit of points a few jitters above zero cannot rule out growth that
        # the jitter hid: growth proportional to size is plausible too.
        proportional = _few_points_fit(clean, max_x, max_y)
        plausible.append(proportional.curve)
        widening.append(proportional.residual)
    return GrowthFit(
        curve=curves[chosen],
        plausible=tuple(plausible),
        held_out_error=errors[chosen],
        residual=_worst_residual(clean, curves[chosen]),
        max_x=max_x,
        max_y=max_y,
        widening=tuple(widening),
    )


def _few_points_fit(points: list[tuple[float, float]], max_x: float, max_y: float) -> GrowthFit:
    """Too few sizes or too little growth to choose a shape: proportional to size."""
    slope = max_y / max_x
    curve = Curve(Shape.LINEAR, 0.0, slope)
    if len({x for x, _ in points}) == 2:
        curve = _fit(points, Shape.LINEAR)
        curve = Curve(Shape.LINEAR, curve.intercept, max(curve.slope, slope))
    # The largest point may sit a jitter low: widen by that jitter, relative to it.
    jitter = NOISE_BYTES / max(max_y, NOISE_BYTES)
    return GrowthFit(curve, (curve,), math.inf, jitter, max_x, max_y, (jitter,))


def _weight(y: float) -> float:
    """Inverse variance of a peak: a proportional error plus the cgroup's absolute jitter."""
    return 1.0 / ((RELATIVE_NOISE * y) ** 2 + NOISE_BYTES**2)


def _fit(points: Sequence[tuple[float, float]], shape: Shape) -> Curve:
    """Weighted least squares of ``y = a + b f(x)`` with a, b clipped to be non-negative."""
    term = _TERMS[shape]
    sw = swf = swff = swy = swfy = 0.0
    for x, y in points:
        w, f = _weight(y), term(x)
        sw, swf, swff = sw + w, swf + w * f, swff + w * f * f
        swy, swfy = swy + w * y, swfy + w * f * y
    det = sw * swff - swf * swf
    if shape is Shape.CONSTANT or det <= 0:
        return Curve(shape, max(y for _, y in points) if det <= 0 else swy / sw, 0.0)
    slope = (sw * swfy - swf * swy) / det
    intercept = (swy - slope * swf) / sw
    if slope < 0:
        return Curve(shape, swy / sw, 0.0)
    if intercept < 0:
        return Curve(shape, 0.0, swfy / swff)
    return Curve(shape, intercept, slope)


def _held_out_error(points: list[tuple[float, float]], shape: Shape) -> float:
    """Relative error predicting the largest point from the others (points sorted by size)."""
    *rest, (x, y) = points
    predicted = _fit(rest, shape)(x)
    return abs(predicted - y) / max(y, NOISE_BYTES)


def _worst_residual(points: Sequence[tuple[float, float]], curve: Curve) -> float:
    """The largest amount by which a point exceeds the curve, relative to the curve."""
    worst = 0.0
    for x, y in points:
        predicted = max(curve(x), NOISE_BYTES)
        worst = max(worst, (y - curve(x)) / predicted)
    return worst
