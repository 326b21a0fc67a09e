"""Return a 1 GiB value."""


def process(input_data):
    return {"blob": "a" * (1 << 30)}
