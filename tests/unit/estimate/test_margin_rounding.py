"""The margin is calibrated from observed ratios; reservations round up to coarse buckets."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runsurge.estimate.margin import Margin
from runsurge.estimate.rounding import round_up

MiB = 1024 * 1024


def test_margin_without_observations_is_the_prior() -> None:
    assert Margin(prior=1.2).factor == pytest.approx(1.2)


def test_margin_rises_at_once_to_an_observed_high_quantile() -> None:
    margin = Margin(prior=1.1)
    for ratio in [0.9] * 20 + [1.4] * 3:
        margin.observe(int(ratio * 1000), 1000)
    assert margin.factor >= 1.39


def test_margin_shrinks_towards_ratios_below_the_prior_but_not_below_the_floor() -> None:
    margin = Margin(prior=1.3, floor=1.05)
    for _ in range(200):
        margin.observe(500, 1000)
    assert margin.factor == pytest.approx(1.05)


def test_margin_ignores_runs_with_nothing_measured() -> None:
    margin = Margin(prior=1.2)
    margin.observe(0, 1000)
    assert margin.ratios == []


def test_margin_rejects_a_floor_below_one() -> None:
    with pytest.raises(ValueError, match="floor"):
        Margin(prior=1.2, floor=0.9)


@given(st.integers(1, 2**40))
def test_bucket_covers_the_request_and_wastes_at_most_an_eighth_or_one_step(nbytes: int) -> None:
    bucket = round_up(nbytes)
    assert nbytes <= bucket <= max(nbytes * 9 // 8 + 1, nbytes + MiB - 1)


def test_buckets_are_coarse_for_large_reservations() -> None:
    assert round_up(1000 * MiB + 1) == 1024 * MiB
    assert round_up(5 * MiB + 1) == 6 * MiB
