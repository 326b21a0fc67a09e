"""Growth fitting: a known shape plus noise is recovered, and the bound covers the truth."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runsurge.estimate.growth import Shape, fit_growth

MiB = 1024 * 1024
SIZES = [256 * 1024 * 2**k for k in range(5)]  # 256 KiB .. 4 MiB, as probes grow


def _truth(shape: Shape, a: float, b: float, x: float) -> float:
    terms = {
        Shape.CONSTANT: 0.0,
        Shape.LINEAR: x,
        Shape.NLOGN: x * math.log2(x),
        Shape.QUADRATIC: x * x,
    }
    return a + b * terms[shape]


@settings(max_examples=60, deadline=None)
@given(
    shape=st.sampled_from([Shape.CONSTANT, Shape.LINEAR, Shape.QUADRATIC]),
    intercept=st.floats(0, 200 * MiB),
    per_byte=st.floats(2.0, 40.0),
    noise=st.floats(0.0, 0.05),
    seed=st.integers(0, 2**16),
)
def test_bound_covers_a_noisy_known_shape_four_times_beyond_the_points(
    shape: Shape, intercept: float, per_byte: float, noise: float, seed: int
) -> None:
    rng = random.Random(seed)
    # Scale the slope so that every shape reaches per_byte * x at the largest probe.
    top = SIZES[-1]
    slope = 0.0 if shape is Shape.CONSTANT else per_byte * top / _truth(shape, 0, 1, top)
    # Noise as a cgroup shows it: a proportional error on what grows, plus a jitter well
    # below the growth (growth within the jitter is the harness floor's to cover).
    points = [
        (x, intercept + _truth(shape, 0, slope, x) * (1 + rng.uniform(-noise, noise)))
        for x in SIZES
    ]
    points = [(x, y + rng.uniform(-0.25, 0.25) * MiB) for x, y in points]
    fit = fit_growth(points)
    target = 4 * top
    truth = _truth(shape, intercept, slope, target)
    assert fit.upper_bound(target) >= truth


@pytest.mark.parametrize("shape", [Shape.CONSTANT, Shape.LINEAR, Shape.QUADRATIC])
def test_exact_shape_is_chosen_from_clean_points(shape: Shape) -> None:
    slope = {Shape.CONSTANT: 0.0, Shape.LINEAR: 10.0, Shape.QUADRATIC: 1e-5}[shape]
    points = [(x, _truth(shape, 20 * MiB, slope, x)) for x in SIZES]
    assert fit_growth(points).curve.shape is shape


def test_linear_growth_is_not_bounded_like_a_quadratic() -> None:
    points = [(x, 10.0 * x + 5 * MiB) for x in SIZES]
    bound = fit_growth(points).upper_bound(100 * SIZES[-1])
    # n log n may stay plausible (at most ~1.3x here); a quadratic would be 100x.
    assert bound <= 2 * (10.0 * 100 * SIZES[-1] + 5 * MiB)


def test_memory_never_shrinks_below_the_largest_point() -> None:
    points = [(1e6, 50 * MiB), (2e6, 10 * MiB), (4e6, 10 * MiB)]
    assert fit_growth(points).upper_bound(8e6) >= 50 * MiB


def test_two_sizes_extrapolate_linearly_through_the_largest() -> None:
    fit = fit_growth([(1e6, 10 * MiB), (2e6, 20 * MiB)])
    assert fit.upper_bound(4e6) >= 40 * MiB


def test_no_positive_size_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="positive size"):
        fit_growth([(0, 5.0)])
