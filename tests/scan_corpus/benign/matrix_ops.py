"""Small dense matrix operations in pure Python."""
from __future__ import annotations

import json
import math


class Matrix:
    def __init__(self, rows: list[list[float]]) -> None:
        self.rows = rows

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.rows), len(self.rows[0]) if self.rows else 0

    def __matmul__(self, other: Matrix) -> Matrix:
        cols = list(zip(*other.rows))
        return Matrix([[sum(a * b for a, b in zip(r, c)) for c in cols] for r in self.rows])

    def transpose(self) -> Matrix:
        return Matrix([list(c) for c in zip(*self.rows)])

    def frobenius(self) -> float:
        return math.sqrt(sum(x * x for r in self.rows for x in r))

    def __repr__(self) -> str:
        return f"Matrix({self.rows!r})"


def process(input_data: str) -> dict:
    m = Matrix(json.loads(input_data))
    gram = m.transpose() @ m
    return {"shape": m.shape, "gram": gram.rows, "norm": m.frobenius(), "repr": repr(m)[:50]}
