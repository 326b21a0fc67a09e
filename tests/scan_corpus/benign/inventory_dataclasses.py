"""Inventory valuation with dataclasses and Decimal arithmetic."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from decimal import ROUND_HALF_UP, Decimal


@dataclass(frozen=True)
class Item:
    sku: str
    quantity: int
    unit_price: Decimal

    @property
    def value(self) -> Decimal:
        return (self.unit_price * self.quantity).quantize(Decimal("0.01"), ROUND_HALF_UP)


@dataclass
class Inventory:
    items: list[Item] = field(default_factory=list)

    def add(self, item: Item) -> None:
        self.items.append(item)

    def total(self) -> Decimal:
        return sum((i.value for i in self.items), Decimal("0"))


def process(input_data: str) -> dict:
    inv = Inventory()
    for raw in json.loads(input_data):
        inv.add(Item(raw["sku"], int(raw["quantity"]), Decimal(str(raw["unit_price"]))))
    return {
        "total": str(inv.total()),
        "items": [{**asdict(i), "unit_price": str(i.unit_price)} for i in inv.items],
    }
