# expect: runsurge.escape.namespace-lookup
def process(input_data: str) -> dict:
    b = globals()["__buil" + "tins__"]
    return {"v": b}
