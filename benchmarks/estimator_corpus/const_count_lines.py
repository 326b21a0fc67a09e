def process(input_data: str) -> dict:
    return {"lines": input_data.count("\n"), "spaces": input_data.count(" ")}
