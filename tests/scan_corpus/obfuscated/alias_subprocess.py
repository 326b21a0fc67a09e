# expect: runsurge.process.subprocess
import subprocess as s


def process(input_data: str) -> dict:
    return {"out": s.run(["id"], capture_output=True).stdout.decode()}
