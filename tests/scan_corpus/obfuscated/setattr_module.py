# expect: runsurge.escape.module-tampering
import json


def process(input_data: str) -> dict:
    setattr(json, "dumps", lambda obj, **kw: "forged")
    return {}
