# expect: runsurge.dynamic.getattr-dangerous-name
import os


def process(input_data: str) -> dict:
    fn = getattr(os, "sys" + "tem")
    return {"rc": fn("id")}
