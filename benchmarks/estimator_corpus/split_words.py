def process(input_data: str) -> dict:
    words = input_data.split()
    return {"words": len(words)}
