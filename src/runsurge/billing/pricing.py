"""Prices in exact decimals: usage x machine factor x unit price, and the platform's fee.

Units and rounding (docs/billing.md says the same):

- 1 MB = 10**6 bytes (SI, as the price is quoted "per MB·s"), so 1 MiB = 1.048576 MB.
- Seconds are the sandbox's wall time of the attempt, kept to 1e-6 s.
- Money is in currency units, stored as integer micro-units (1 unit = 10**6 micros):
  a cost is rounded once per attempt, ROUND_HALF_EVEN to 1e-6 units, and the fee is
  rounded the same way from that cost; the contributor gets cost - fee, exactly, so
  every charge balances to the micro-unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

BYTES_PER_MB = 10**6
MICROS_PER_UNIT = 10**6
QUANTUM = Decimal("0.000001")  # the smallest amount, factor and second kept

DEFAULT_PRICE_PER_MB_SECOND = Decimal("0.000001")  # 1 GB for an hour costs 3.6 units
DEFAULT_PLATFORM_FEE_SHARE = Decimal("0.10")
DEFAULT_QUOTE_TASK_SECONDS = 60.0


@dataclass(frozen=True)
class Pricing:
    """The configured prices (CoordinatorSettings.pricing builds it)."""

    price_per_mb_second: Decimal = DEFAULT_PRICE_PER_MB_SECOND
    platform_fee_share: Decimal = DEFAULT_PLATFORM_FEE_SHARE
    # The seconds a task is expected to run, for quotes until an estimator says more.
    quote_task_seconds: float = DEFAULT_QUOTE_TASK_SECONDS

    def __post_init__(self) -> None:
        if not self.price_per_mb_second.is_finite() or self.price_per_mb_second < 0:
            raise ValueError(f"price_per_mb_second must be >= 0, not {self.price_per_mb_second}")
        if not (Decimal(0) <= self.platform_fee_share <= Decimal(1)):
            raise ValueError(f"platform_fee_share must be in 0..1, not {self.platform_fee_share}")


@dataclass(frozen=True)
class Usage:
    """What an attempt used, in the units the price is quoted in."""

    avg_ram_mb: Decimal
    seconds: Decimal

    @classmethod
    def measured(cls, average_memory_bytes: int, wall_seconds: float) -> Usage:
        """From the attempt row's (already sanity-checked) figures."""
        return cls(
            avg_ram_mb=Decimal(max(0, average_memory_bytes)) / BYTES_PER_MB,
            seconds=quantize(Decimal(repr(max(0.0, wall_seconds)))),
        )


@dataclass(frozen=True)
class Price:
    """One attempt's cost, split into the platform's fee and the contributor's payout."""

    cost: Decimal
    fee: Decimal

    @property
    def payout(self) -> Decimal:
        """What the contributor earns: the cost less the fee, exactly."""
        return self.cost - self.fee


def quantize(amount: Decimal) -> Decimal:
    """`amount` rounded half-even to 1e-6, the one rounding rule of billing."""
    return amount.quantize(QUANTUM, rounding=ROUND_HALF_EVEN)


def price(usage: Usage, machine_factor: Decimal, pricing: Pricing) -> Price:
    """avg RAM (MB) x seconds x machine factor x unit price, rounded once; and its fee."""
    cost = quantize(usage.avg_ram_mb * usage.seconds * machine_factor * pricing.price_per_mb_second)
    return Price(cost=cost, fee=quantize(cost * pricing.platform_fee_share))


def quote_for(task_count: int, reservation_bytes: int, pricing: Pricing) -> Decimal:
    """The expected cost of `task_count` tasks reserving `reservation_bytes` each.

    The seam for a better estimator: today every task is assumed to average its whole
    reservation for `quote_task_seconds` on a factor-1.0 machine (the wall limit would
    over-quote a typical task a hundredfold).
    """
    per_task = price(
        Usage(Decimal(reservation_bytes) / BYTES_PER_MB, Decimal(repr(pricing.quote_task_seconds))),
        Decimal(1),
        pricing,
    ).cost
    return per_task * max(0, task_count)


def to_micros(amount: Decimal) -> int:
    """An amount as integer micro-units; refuses one finer than 1e-6 (never rounds)."""
    micros = amount * MICROS_PER_UNIT
    if micros != micros.to_integral_value():
        raise ValueError(f"{amount} has more than 6 decimal places")
    return int(micros)


def from_micros(micros: int) -> Decimal:
    """Integer micro-units as a Decimal amount with 6 places."""
    return (Decimal(micros) / MICROS_PER_UNIT).quantize(QUANTUM)
