"""Pricing in exact decimals: the formula, its units, its one rounding rule."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runsurge.billing.charges import CHARGED, chargeable
from runsurge.billing.pricing import (
    Price,
    Pricing,
    Usage,
    from_micros,
    price,
    quote_for,
    to_micros,
)
from runsurge.kinds import OutcomeKind

MiB = 1024 * 1024


def test_cost_is_ram_mb_times_seconds_times_factor_times_unit_price() -> None:
    pricing = Pricing(price_per_mb_second=Decimal("0.000001"), platform_fee_share=Decimal("0.1"))
    usage = Usage.measured(average_memory_bytes=250_000_000, wall_seconds=4.0)
    assert usage.avg_ram_mb == Decimal(250)
    cost = price(usage, Decimal("1.5"), pricing)
    assert cost.cost == Decimal("0.001500")  # 250 MB x 4 s x 1.5 x 1e-6
    assert cost.fee == Decimal("0.000150")
    assert cost.payout == Decimal("0.001350")


def test_one_mb_is_ten_to_the_six_bytes_not_a_mebibyte() -> None:
    assert Usage.measured(MiB, 1.0).avg_ram_mb == Decimal("1.048576")


def test_cost_is_rounded_half_even_to_a_micro_unit_once() -> None:
    pricing = Pricing(price_per_mb_second=Decimal("0.000001"), platform_fee_share=Decimal(0))
    # 2.5 MB.s and 3.5 MB.s: exactly half a micro-unit, to the even neighbour.
    assert price(Usage(Decimal("2.5"), Decimal(1)), Decimal(1), pricing).cost == Decimal("0.000002")
    assert price(Usage(Decimal("3.5"), Decimal(1)), Decimal(1), pricing).cost == Decimal("0.000004")


@given(
    mb=st.decimals(min_value=0, max_value=10**6, places=6),
    seconds=st.decimals(min_value=0, max_value=10**5, places=6),
    factor=st.decimals(min_value=0, max_value=20, places=6),
    share=st.decimals(min_value=0, max_value=1, places=4),
)
def test_fee_and_payout_add_up_to_the_cost_to_the_micro_unit(
    mb: Decimal, seconds: Decimal, factor: Decimal, share: Decimal
) -> None:
    cost = price(Usage(mb, seconds), factor, Pricing(platform_fee_share=share))
    assert cost.fee + cost.payout == cost.cost
    assert Decimal(0) <= cost.fee <= cost.cost
    for amount in (cost.cost, cost.fee, cost.payout):
        assert from_micros(to_micros(amount)) == amount


def test_an_amount_finer_than_a_micro_unit_is_refused_not_rounded() -> None:
    with pytest.raises(ValueError, match="more than 6 decimal places"):
        to_micros(Decimal("0.0000001"))


def test_quote_assumes_the_expected_seconds_at_the_full_reservation() -> None:
    pricing = Pricing(price_per_mb_second=Decimal("0.000001"), quote_task_seconds=60.0)
    assert quote_for(10, 500_000_000, pricing) == Decimal("0.300000")  # 10 x 500 MB x 60 s


def test_a_negative_price_or_a_fee_above_one_is_refused() -> None:
    with pytest.raises(ValueError, match="price_per_mb_second"):
        Pricing(price_per_mb_second=Decimal("-1"))
    with pytest.raises(ValueError, match="platform_fee_share"):
        Pricing(platform_fee_share=Decimal("1.5"))


def test_every_outcome_kind_is_decided_charged_or_not() -> None:
    assert set(CHARGED) == set(OutcomeKind)


@pytest.mark.parametrize(
    ("outcome", "charged"),
    [
        (OutcomeKind.OK, True),
        (OutcomeKind.SCRIPT_ERROR, True),
        (OutcomeKind.TIMEOUT, True),
        (OutcomeKind.CPU_LIMIT, True),
        (OutcomeKind.OUTPUT_TOO_LARGE, True),
        (OutcomeKind.SANDBOX_VIOLATION, True),
        (OutcomeKind.LOST, False),
        (OutcomeKind.INFRASTRUCTURE, False),
        (OutcomeKind.CANCELLED, False),
    ],
)
def test_the_consumer_pays_for_its_own_failures_only(outcome: OutcomeKind, charged: bool) -> None:
    assert chargeable(outcome, 512 * MiB, 0) is charged


def test_out_of_memory_is_charged_only_at_the_jobs_own_memory_limit() -> None:
    assert not chargeable(OutcomeKind.OUT_OF_MEMORY, 512 * MiB, 0)  # no --memory: ours
    assert not chargeable(OutcomeKind.OUT_OF_MEMORY, 512 * MiB, 1024 * MiB)  # below the cap
    assert chargeable(OutcomeKind.OUT_OF_MEMORY, 1024 * MiB, 1024 * MiB)  # at the cap


def test_price_payout_is_cost_less_fee() -> None:
    assert Price(Decimal("1.000000"), Decimal("0.100000")).payout == Decimal("0.900000")
