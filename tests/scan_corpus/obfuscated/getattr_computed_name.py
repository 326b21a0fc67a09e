# expect: runsurge.dynamic.getattr-computed-on-module
import os


def process(input_data: str) -> dict:
    name = "".join(reversed("metsys"))
    return {"rc": getattr(os, name)("id")}
