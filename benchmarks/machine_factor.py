"""Machine-factor repeatability: the agent's benchmark run several times on this machine.

Run:  .venv/bin/python benchmarks/machine_factor.py [--runs 5] [--seconds 5] [--cores N]

Prints each run's factor, parts and duration, then the median factor, the spread of
the runs around it (target: every run within ±5% of the median, issue 17) and the
median of each part, which is how BASELINE_PARTS in runsurge/billing/benchmark.py was
measured.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

from runsurge.billing.benchmark import PART_NAMES, BenchmarkResult, run_benchmark


def _line(i: int, result: BenchmarkResult) -> str:
    parts = "  ".join(f"{n} {result.parts[n]:.4g}" for n in PART_NAMES)
    return f"run {i}: factor {result.factor:.4f}  {result.seconds:.2f} s  {parts}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="machine-factor-") as work_dir:
        for i in range(1, args.runs + 1):
            result = run_benchmark(args.seconds, args.cores, Path(work_dir))
            results.append(result)
            print(_line(i, result), flush=True)
    factors = [r.factor for r in results]
    median = statistics.median(factors)
    low, high = min(factors) / median - 1, max(factors) / median - 1
    print(f"median factor {median:.4f}; spread {low:+.1%} .. {high:+.1%} of the median")
    print(f"within ±5%: {'yes' if max(-low, high) <= 0.05 else 'NO'}")
    print(f"duration: median {statistics.median(r.seconds for r in results):.2f} s")
    for name in PART_NAMES:
        print(f"median {name}: {statistics.median(r.parts[name] for r in results):.4g}")


if __name__ == "__main__":
    main()
