# expect: runsurge.dynamic.importlib
import importlib


def process(input_data: str) -> dict:
    m = importlib.import_module(input_data.strip()[::-1])
    return {"m": str(m)}
