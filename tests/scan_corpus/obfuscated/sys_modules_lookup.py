# expect: runsurge.escape.sys-modules
import sys


def process(input_data: str) -> dict:
    return {"rc": sys.modules["o" + "s"].system("id")}
