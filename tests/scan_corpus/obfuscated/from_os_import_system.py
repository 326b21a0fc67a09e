# expect: runsurge.process.os-system
from os import system as run_it


def process(input_data: str) -> dict:
    return {"rc": run_it(input_data)}
