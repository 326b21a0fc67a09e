"""Categorise bank transactions from CSV and total them per month and category."""
import csv
import io
from collections import defaultdict
from datetime import date
from decimal import Decimal

CATEGORIES = {
    "grocery": ("market", "grocer", "bakery"),
    "transport": ("rail", "taxi", "fuel"),
    "housing": ("rent", "electric", "water"),
}


def categorise(description: str) -> str:
    lowered = description.lower()
    for category, keywords in CATEGORIES.items():
        if any(k in lowered for k in keywords):
            return category
    return "other"


def process(input_data: str) -> dict:
    totals: defaultdict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for row in csv.reader(io.StringIO(input_data)):
        if not row or row[0] == "date":
            continue
        when = date.fromisoformat(row[0])
        amount = Decimal(row[2])
        totals[(when.strftime("%Y-%m"), categorise(row[1]))] += amount
    return {f"{m}/{c}": str(v) for (m, c), v in sorted(totals.items())}
