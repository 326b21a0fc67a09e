"""Grouped jobs vs multiprocessing.Pool(2).map, side by side, plus coordinator memory.

Runs `runsurge up --contributors 2` (each contributor one core) and, in the same run,
`multiprocessing.Pool(2).map` over the same `process` function (about 10 ms of CPU per
input), for 1,000 and 10,000 inputs; prints both wall times and their ratio. Then
submits a 100,000-input group and samples the coordinator's RSS while the inputs are
uploaded and the first tasks run, and prints the peak.

Usage: .venv/bin/python benchmarks/group.py [--sizes 1000,10000] [--big 100000]
Targets (issue 5): ratio under 3 for 10 ms tasks; coordinator peak RSS under 300 MB.
"""

from __future__ import annotations

import argparse
import multiprocessing
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import psutil
from harness.local import TEN_MS_SCRIPT, start_up, ten_ms

from runsurge.client import Client


def coordinator_process(up: subprocess.Popen[bytes]) -> psutil.Process:
    for child in psutil.Process(up.pid).children():
        if "coordinator" in " ".join(child.cmdline()):
            return child
    raise RuntimeError("no coordinator process found")


def time_runsurge(client: Client, inputs: list[str]) -> float:
    start = time.perf_counter()
    job = client.submit_group(TEN_MS_SCRIPT, inputs, aggregate=["n=sum"])
    result = job.result(timeout=3600)
    elapsed = time.perf_counter() - start
    assert result == {"n": sum(len(i) for i in inputs)}, result
    return elapsed


def time_pool(inputs: list[str]) -> float:
    start = time.perf_counter()
    with multiprocessing.Pool(2) as pool:
        results = pool.map(ten_ms, inputs)
    elapsed = time.perf_counter() - start
    assert sum(r["n"] for r in results) == sum(len(i) for i in inputs)
    return elapsed


def peak_rss_during_big_group(
    client: Client, coordinator: psutil.Process, n: int, run_s: float
) -> None:
    peak = coordinator.memory_info().rss
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, coordinator.memory_info().rss)
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    job = client.submit_group(TEN_MS_SCRIPT, (f"input {i}" for i in range(n)), aggregate=["n=sum"])
    uploaded = time.perf_counter() - start
    time.sleep(run_s)
    done = job.status().tasks
    job.cancel()
    stop.set()
    sampler.join()
    print(
        f"\n{n:,}-input group: uploaded in {uploaded:.1f}s ({n / uploaded:,.0f} inputs/s); "
        f"{done.succeeded:,} done after {run_s:.0f}s more; "
        f"coordinator peak RSS {peak / 2**20:.0f} MB (target < 300 MB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--big", type=int, default=100_000)
    parser.add_argument("--big-run-seconds", type=float, default=20.0)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    with tempfile.TemporaryDirectory() as tmp:
        up, address = start_up(Path(tmp))
        try:
            token = (Path(tmp) / "local" / "coordinator" / "consumer.token").read_text().strip()
            with Client(address, token) as client:
                time_runsurge(client, ["warm-up"] * 4)
                print(f"{'inputs':>8} {'runsurge s':>11} {'Pool(2) s':>10} {'ratio':>6}")
                for n in sizes:
                    inputs = [f"input number {i}" for i in range(n)]
                    ours = time_runsurge(client, inputs)
                    pool = time_pool(inputs)
                    print(f"{n:>8,} {ours:>11.2f} {pool:>10.2f} {ours / pool:>6.2f}", flush=True)
                if args.big:
                    peak_rss_during_big_group(
                        client, coordinator_process(up), args.big, args.big_run_seconds
                    )
        finally:
            up.terminate()
            up.wait(60)


if __name__ == "__main__":
    main()
