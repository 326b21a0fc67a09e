def process(input_data: str) -> dict:
    backwards = input_data[::-1]
    return {"last": backwards[:1]}
