def process(input_data: str) -> dict:
    unique = {line for line in input_data.splitlines()}
    return {"unique": len(unique)}
