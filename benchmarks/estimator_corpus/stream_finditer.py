import re


def process(input_data: str) -> dict:
    words = sum(1 for _ in re.finditer(r"\S+", input_data))
    return {"words": words}
