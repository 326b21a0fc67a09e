"""A local `runsurge up` cluster and the 10 ms task the Pool comparisons share.

`pool.py`, `group.py` and `peers.py` compare RunSurge with `multiprocessing.Pool(2)`
on the same work: `TEN_MS_SCRIPT` is what RunSurge runs, `ten_ms` the same function
for the Pool (module-level, so it pickles), and `start_up` starts `runsurge up` with
two one-core contributors in a home of its own and returns its address.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

TEN_MS_SCRIPT = """
import time

def process(input_data: str) -> dict:
    deadline = time.perf_counter() + 0.010
    spins = 0
    while time.perf_counter() < deadline:
        spins += 1
    return {"n": len(input_data)}
"""


def ten_ms(input_data: str) -> dict[str, int]:
    """TEN_MS_SCRIPT's process(), for the Pool baseline."""
    deadline = time.perf_counter() + 0.010
    spins = 0
    while time.perf_counter() < deadline:
        spins += 1
    return {"n": len(input_data)}


def start_up(home: Path, contributors: int = 2) -> tuple[subprocess.Popen[bytes], str]:
    """`runsurge up` in `home`; (its process, the coordinator's address) once READY."""
    env = dict(os.environ, RUNSURGE_HOME=str(home))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "runsurge",
            "up",
            "--contributors",
            str(contributors),
            "--port",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith(b"READY "):
            return proc, line.split()[1].decode()
    raise RuntimeError("runsurge up did not start")


def consumer_token(home: Path) -> str:
    """The token `runsurge up` wrote for the local consumer."""
    return (home / "local" / "coordinator" / "consumer.token").read_text().strip()
