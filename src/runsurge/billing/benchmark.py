"""The agent's machine benchmark: five short measurements, one score, one claimed factor.

A contributor is paid by `machine factor x average RAM x seconds`, the factor saying
how much faster than the BASELINE machine it runs consumer code. Consumer code is
Python, so the CPU parts time pure-Python kernels, the kind of work `process` does:

- ``integer``: a single-core xorshift loop (kernel iterations per second);
- ``floating``: a single-core logistic-map and square-root loop (iterations per second);
- ``multicore``: the integer kernel in one process per offered core at once, per core
  (so a machine whose cores slow down when all are busy, SMT siblings or thermal
  limits, scores lower; more cores do not raise it: a task runs on one slot);
- ``memory``: copying a 32 MiB buffer (bytes per second);
- ``disk``: writing 8 MiB to the work dir with fsync, then reading it back with the
  page cache dropped (bytes per second).

Each part repeats a fixed unit of work within its share of the time budget and keeps
the fastest unit: it measures what the machine can do, not how loaded it is right now
(other work on it makes units slower, not faster). The combined score is the weighted
geometric mean of each part over its BASELINE figure, times ``BASELINE_SCORE``; the
factor is ``score / BASELINE_SCORE``. A geometric mean keeps one outlandish part (a
RAM disk) from dominating, and the weights favour the single-core parts that most
tasks are bound by.

The coordinator recomputes the score from the parts with `score` (it never takes the
agent's combined number), and then caps it by the speed the contributor's tasks show
(billing/factor.py). Run ``python -m runsurge.billing.benchmark --json`` to measure a
machine; the agent does so in a child process so that its event loop keeps running.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

# The BASELINE machine's part scores, measured on the 2-core RunSurge development VM
# (Python 3.11.7, 2 vCPU, shared with other builds) on 2026-12-01 with
# `benchmarks/machine_factor.py --runs 5` (the median of 5 runs of 5 s, 2 cores):
# by definition this machine's factor is 1.0.
BASELINE_PARTS: dict[str, float] = {
    "integer": 4.57e6,  # xorshift iterations / s, one core
    "floating": 1.30e7,  # logistic-map iterations / s, one core
    "multicore": 4.35e6,  # xorshift iterations / s per core, all offered cores busy
    "memory": 1.60e10,  # bytes copied / s
    "disk": 1.10e9,  # bytes written (fsync) and read back / s
}
BASELINE_SCORE = 1000.0
# How much each part counts in the geometric mean (they sum to 1).
WEIGHTS: dict[str, float] = {
    "integer": 0.30,
    "floating": 0.25,
    "multicore": 0.20,
    "memory": 0.15,
    "disk": 0.10,
}
# Each part's share of the time budget: disk and multicore units are the slowest.
_SHARES: dict[str, float] = {
    "integer": 0.15,
    "floating": 0.15,
    "multicore": 0.30,
    "memory": 0.15,
    "disk": 0.25,
}
PART_NAMES = tuple(WEIGHTS)
# Kernel iterations per timed unit: about 2 ms, short enough that on a busy machine
# some units still run without being preempted.
INTEGER_UNIT = 5_000
FLOAT_UNIT = 5_000
MEMORY_BYTES = 32 * 1024 * 1024  # larger than the last-level cache of most machines
DISK_BYTES = 8 * 1024 * 1024
ROUNDS = 3  # interleaved rounds of the single-core and memory parts
_MASK = 0xFFFFFFFF


class BenchmarkError(ValueError):
    """Parts that cannot be scored: missing, not finite, or not positive (names which)."""


@dataclass(frozen=True)
class BenchmarkResult:
    """One benchmark run: each part's rate, the cores it used, and how long it took."""

    parts: dict[str, float]
    cores: int
    seconds: float

    @property
    def score(self) -> float:
        """The combined score (BASELINE_SCORE for the BASELINE machine)."""
        return score(self.parts)

    @property
    def factor(self) -> float:
        """The factor this machine claims: score over the BASELINE's."""
        return self.score / BASELINE_SCORE


def check_parts(parts: dict[str, float]) -> dict[str, float]:
    """The parts, each present, finite and positive; BenchmarkError naming the bad one."""
    missing = [name for name in PART_NAMES if name not in parts]
    if missing:
        raise BenchmarkError(f"benchmark parts missing: {', '.join(missing)}")
    for name in PART_NAMES:
        value = parts[name]
        if not math.isfinite(value) or value <= 0:
            raise BenchmarkError(f"benchmark part {name!r} must be a positive number, not {value}")
    return {name: float(parts[name]) for name in PART_NAMES}


def score(parts: dict[str, float]) -> float:
    """The weighted geometric mean of the parts over BASELINE_PARTS, x BASELINE_SCORE."""
    checked = check_parts(parts)
    log_sum = sum(WEIGHTS[n] * math.log(checked[n] / BASELINE_PARTS[n]) for n in PART_NAMES)
    return BASELINE_SCORE * math.exp(log_sum)


def integer_kernel(iterations: int) -> int:
    """xorshift32 with a running checksum: integer ops the interpreter cannot skip."""
    x, acc = 2463534242, 0
    for _ in range(iterations):
        x ^= (x << 13) & _MASK
        x ^= x >> 17
        x ^= (x << 5) & _MASK
        acc = (acc + x) % 1_000_003
    return acc


def float_kernel(iterations: int) -> float:
    """The logistic map with square roots: floating-point work with a checkable sum."""
    x, total = 0.5, 0.0
    for i in range(1, iterations + 1):
        x = 3.7 * x * (1.0 - x)
        total += math.sqrt(x) / i
    return total


def _best_rate(unit: Callable[[], object], work: float, budget: float) -> float:
    """Work per second of the fastest unit run within `budget` seconds (at least one)."""
    best = math.inf
    deadline = time.perf_counter() + budget
    while True:
        started = time.perf_counter()
        unit()
        best = min(best, time.perf_counter() - started)
        if time.perf_counter() >= deadline:
            return work / max(best, 1e-9)


def _core_worker(start_at: float, budget: float) -> float:
    """One multicore process: wait for the common start, then time integer units."""
    time.sleep(max(0.0, start_at - time.time()))
    return _best_rate(lambda: integer_kernel(INTEGER_UNIT), INTEGER_UNIT, budget)


def _multicore(cores: int, budget: float) -> float:
    """The integer rate per core with `cores` processes running it at once.

    Processes are spawned (never forked: the agent has gRPC threads) and start
    together at a common wall-clock time, so that their timed units overlap.
    """
    context = multiprocessing.get_context("spawn")
    startup = min(0.3, budget / 3)  # within the budget: spawning takes about 0.1 s
    with ProcessPoolExecutor(max_workers=cores, mp_context=context) as pool:
        start_at = time.time() + startup
        futures = [pool.submit(_core_worker, start_at, budget - startup) for _ in range(cores)]
        rates = [f.result() for f in futures]
    return sum(rates) / len(rates)


def _memory_unit() -> tuple[Callable[[], object], float]:
    """Copying one large buffer into another, and the bytes that moves."""
    source = bytes(MEMORY_BYTES)
    view = memoryview(bytearray(MEMORY_BYTES))

    def copy() -> None:
        view[:] = source

    return copy, MEMORY_BYTES


def _disk(directory: Path, budget: float) -> float:
    """Bytes per second writing a file with fsync and reading it back uncached."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"benchmark-{os.getpid()}.tmp"
    block = os.urandom(1024 * 1024)

    def write_and_read() -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            for _ in range(DISK_BYTES // len(block)):
                os.write(fd, block)
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
        fd = os.open(path, os.O_RDONLY)
        try:
            while os.read(fd, len(block)):
                pass
        finally:
            os.close(fd)

    try:
        return _best_rate(write_and_read, 2 * DISK_BYTES, budget)
    finally:
        path.unlink(missing_ok=True)


def _single_core_parts(seconds: float) -> dict[str, float]:
    """The integer, floating and memory parts, measured in interleaved rounds.

    A burst of other work on the machine (a VM's neighbour, another build) that lasts
    about a second then spoils one round of each part, not a whole part: each keeps
    its best round.
    """
    units: dict[str, tuple[Callable[[], object], float]] = {
        "integer": (lambda: integer_kernel(INTEGER_UNIT), INTEGER_UNIT),
        "floating": (lambda: float_kernel(FLOAT_UNIT), FLOAT_UNIT),
        "memory": _memory_unit(),
    }
    best = dict.fromkeys(units, 0.0)
    for _ in range(ROUNDS):
        for name, (unit, work) in units.items():
            rate = _best_rate(unit, work, seconds * _SHARES[name] / ROUNDS)
            best[name] = max(best[name], rate)
    return best


def run_benchmark(seconds: float, cores: int, work_dir: Path) -> BenchmarkResult:
    """Measure every part within about `seconds` in total, using up to `cores` cores."""
    if seconds <= 0 or cores < 1:
        raise BenchmarkError(f"a benchmark needs time and a core (got {seconds} s, {cores})")
    began = time.perf_counter()
    single = _single_core_parts(seconds)
    parts = {
        **single,
        "multicore": _multicore(cores, seconds * _SHARES["multicore"]),
        "disk": _disk(work_dir, seconds * _SHARES["disk"]),
    }
    return BenchmarkResult(parts, cores, time.perf_counter() - began)


def to_json(result: BenchmarkResult) -> str:
    """The result as one JSON line (what the agent reads from the child process)."""
    return json.dumps({**asdict(result), "score": result.score, "factor": result.factor})


def from_json(text: str) -> BenchmarkResult:
    """A result printed by `to_json`; BenchmarkError when it is not one."""
    try:
        data = json.loads(text)
        result = BenchmarkResult(
            parts={str(k): float(v) for k, v in data["parts"].items()},
            cores=int(data["cores"]),
            seconds=float(data["seconds"]),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BenchmarkError(f"not a benchmark result: {exc}") from None
    check_parts(result.parts)
    return result


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its result (JSON with --json)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--dir", type=Path, default=Path.cwd())
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = run_benchmark(args.seconds, min(args.cores, os.cpu_count() or 1), args.dir)
    if args.json:
        print(to_json(result))
    else:
        for name, value in result.parts.items():
            print(f"{name:10} {value:14.4g}  ({value / BASELINE_PARTS[name]:.3f}x BASELINE)")
        print(f"score {result.score:.1f}, factor {result.factor:.4f}, {result.seconds:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
