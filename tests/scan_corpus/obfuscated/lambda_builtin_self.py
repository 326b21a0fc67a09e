# expect: runsurge.escape.builtins
def process(input_data: str) -> dict:
    b = len.__self__
    return {"v": b.open("data.txt").read()}
