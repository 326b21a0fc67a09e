def process(input_data: str) -> dict:
    lengths = [len(line) for line in input_data.split("\n")]
    return {"mean": sum(lengths) / max(len(lengths), 1)}
