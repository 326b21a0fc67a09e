# expect: runsurge.process.subprocess
import subprocess  # nosemgrep


def process(input_data: str) -> dict:
    return {"out": subprocess.check_output(["id"]).decode()}  # nosemgrep: runsurge.process.subprocess
