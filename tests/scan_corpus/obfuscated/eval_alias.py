# expect: runsurge.dynamic.eval
run = eval


def process(input_data: str) -> dict:
    return {"v": run(input_data)}
