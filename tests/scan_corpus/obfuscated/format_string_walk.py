# expect: runsurge.escape.dunder-string
def helper():
    return 1


def process(input_data: str) -> dict:
    return {"leak": "{0.__globals__}".format(helper)}
