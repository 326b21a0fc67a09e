"""Return a value just over the output cap (which memory allows)."""


def process(input_data):
    return {"blob": "b" * (3 << 20)}
