"""Exact partial sums of harmonic and alternating series with fractions."""
from fractions import Fraction
from itertools import accumulate, count, islice
import math


def harmonic(n: int) -> Fraction:
    return sum((Fraction(1, k) for k in range(1, n + 1)), Fraction(0))


def process(input_data: str) -> dict:
    n = int(input_data.strip() or "10")
    alternating = list(islice(accumulate(Fraction((-1) ** (k + 1), k) for k in count(1)), n))
    h = harmonic(n)
    return {
        "harmonic": f"{h.numerator}/{h.denominator}",
        "harmonic_float": float(h),
        "ln2_error": abs(float(alternating[-1]) - math.log(2)),
    }
