"""runsurge.Pool(...).map vs multiprocessing.Pool(2).map, side by side, and time to first result.

Starts `runsurge up --contributors 2` (each contributor one core) and, in the same run,
maps the same `process` function (about 10 ms of CPU per input) over the same inputs
through `multiprocessing.Pool(2).map`, `runsurge.Pool().map` and
`runsurge.Pool(local=True, processes=2).map` (no coordinator: each input in this
host's sandbox); prints the wall times and the ratios. Then times the first result
of `imap` on each (the Pool's start included for multiprocessing; submission and
upload included for RunSurge).
A warm-up job first has the coordinator scan the script once (verdicts are cached by
script hash), so the times are those of a script already seen.

Usage: .venv/bin/python benchmarks/pool.py [--inputs 1000]
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from harness.local import TEN_MS_SCRIPT, start_up, ten_ms

import runsurge


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def first_of(results: Iterator[dict[str, Any]]) -> dict[str, Any]:
    return next(results)


def mp_map(inputs: list[str]) -> list[dict[str, int]]:
    with multiprocessing.Pool(2) as pool:
        return pool.map(ten_ms, inputs)


def mp_first(inputs: list[str]) -> dict[str, int]:
    with multiprocessing.Pool(2) as pool:
        return first_of(pool.imap(ten_ms, inputs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=1000)
    args = parser.parse_args()
    inputs = [f"input number {i}" for i in range(args.inputs)]
    expected = [{"n": len(i)} for i in inputs]
    with tempfile.TemporaryDirectory() as tmp:
        up, address = start_up(Path(tmp))
        try:
            token = (Path(tmp) / "local" / "coordinator" / "consumer.token").read_text().strip()
            with runsurge.Pool(coordinator=address, token=token) as pool:
                pool.map(TEN_MS_SCRIPT, ["warm-up"] * 4)
                ours, mapped = timed(lambda: pool.map(TEN_MS_SCRIPT, inputs))
                assert mapped == expected
                ours_first, _ = timed(lambda: first_of(pool.imap(TEN_MS_SCRIPT, inputs)))
            with runsurge.Pool(local=True, processes=2) as here:
                here.map(TEN_MS_SCRIPT, ["warm-up"] * 4)
                local_map, mapped_here = timed(lambda: here.map(TEN_MS_SCRIPT, inputs))
                assert mapped_here == expected
                local_first, _ = timed(lambda: first_of(here.imap(TEN_MS_SCRIPT, inputs)))
            theirs, local = timed(lambda: mp_map(inputs))
            assert local == expected
            theirs_first, _ = timed(lambda: mp_first(inputs))
        finally:
            up.terminate()
            up.wait(60)
    n = args.inputs
    print(f"{n:,} inputs x 10 ms, 2 workers each")
    print(f"{'':26} {'map s':>8} {'first result s':>15}")
    print(f"{'runsurge.Pool().map':26} {ours:>8.2f} {ours_first:>15.2f}")
    print(f"{'runsurge.Pool(local=True)':26} {local_map:>8.2f} {local_first:>15.2f}")
    print(f"{'multiprocessing.Pool(2)':26} {theirs:>8.2f} {theirs_first:>15.2f}")
    print(f"ratio (runsurge / multiprocessing): map {ours / theirs:.1f}x")
    print(f"ratio (local=True / multiprocessing): map {local_map / theirs:.1f}x")


if __name__ == "__main__":
    main()
