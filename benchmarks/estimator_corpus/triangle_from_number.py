def process(input_data: str) -> dict:
    n = int(input_data)
    triangle = [list(range(i)) for i in range(n)]
    return {"cells": sum(map(len, triangle))}
