"""The billing terms a coordinator runs with: prices and spending rules (no database).

Kept apart from the ledger so that settings can build them without importing SQLAlchemy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from runsurge.billing.pricing import Pricing


@dataclass(frozen=True)
class SpendingRules:
    """Whether balances limit consumers, and the spending limit they get by default."""

    enforced: bool = False
    default_limit: Decimal = Decimal(0)  # how far below zero a balance may go


@dataclass(frozen=True)
class Billing:
    """Prices and spending rules, from the coordinator's settings."""

    pricing: Pricing = field(default_factory=Pricing)
    rules: SpendingRules = field(default_factory=SpendingRules)
