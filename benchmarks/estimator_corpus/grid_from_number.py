def process(input_data: str) -> dict:
    n = int(input_data)
    grid = [[0] * n for _ in range(n)]
    return {"cells": sum(len(row) for row in grid)}
