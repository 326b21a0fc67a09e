def process(input_data: str) -> dict:
    ordered = sorted(input_data.splitlines())
    return {"first": ordered[0] if ordered else "", "n": len(ordered)}
