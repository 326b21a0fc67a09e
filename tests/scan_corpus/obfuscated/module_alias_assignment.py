# expect: runsurge.escape.module-alias
import os

o = os


def process(input_data: str) -> dict:
    return {"rc": o.system("id")}
