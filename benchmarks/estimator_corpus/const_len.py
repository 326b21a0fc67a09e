def process(input_data: str) -> dict:
    return {"chars": len(input_data)}
