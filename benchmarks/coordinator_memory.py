"""Coordinator memory and throughput against queue depth, with 200 idle agents connected.

What it measures: one real coordinator process (SQLite by default, scan skipped) is
filled with no-op tasks in steps (grouped jobs submitted while nothing may take
work), to 1k, 10k and 100k queued tasks (`--full`: and 1M). At each depth:

1. RSS: 200 simulated contributors (harness/agents.py, the real protocol) register
   as draining, so they are connected and heartbeat but are given nothing; after a
   few heartbeats the coordinator's RSS is sampled for 3 s (median). The issue's
   target is under 300 MB at 100k queued.
2. tasks/s: the idle agents leave, 50 working simulated agents connect and are timed
   from their streams opening to the `--sample`-th report (default 1,000 tasks taken
   from the queue, so the depth barely moves), as in scheduler_throughput.py.

Prints one row per depth (fill rate, RSS and its ratio to the 300 MB target, tasks/s)
and saves a PNG plot of tasks/s and RSS against queue depth (matplotlib, the `bench`
extra) to docs/performance-queue-depth.png unless `--plot` says elsewhere.

    .venv/bin/python benchmarks/coordinator_memory.py [--quick] [--full] [--db sqlite]
        [--plot docs/performance-queue-depth.png]

--quick: depths 1k and 10k, 500 tasks sampled. Filling 1M takes a long while (the
submission rate is printed per step).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from harness.agents import SimulatedAgent, Tally
from harness.coordinator import CoordinatorProcess, database

from runsurge.client import Client

NOOP = "def process(input_data):\n    return {}\n"
TARGET_BYTES = 300e6
IDLE_AGENTS = 200
WORKERS = 50
DEFAULT_PLOT = Path(__file__).resolve().parent.parent / "docs" / "performance-queue-depth.png"


@dataclass
class Depth:
    """What one queue depth measured."""

    queued: int
    fill_rate: float  # inputs/s of the step that reached this depth
    rss: float  # bytes, median over 3 s with the idle agents connected
    rate: float | None  # tasks/s of the working agents (None: the empty queue)


async def idle_rss(coordinator: CoordinatorProcess, heartbeat: float) -> float:
    """Median coordinator RSS with IDLE_AGENTS draining agents connected."""
    tally = Tally()
    fleet = [
        SimulatedAgent(
            coordinator.address, coordinator.contributor_token, f"idle-{i}", tally, take_work=False
        )
        for i in range(IDLE_AGENTS)
    ]
    await asyncio.gather(*(a.register() for a in fleet))
    stop = asyncio.Event()
    streams = [asyncio.create_task(a.work(stop)) for a in fleet]
    await asyncio.sleep(3 * heartbeat + 1)  # every stream open and heartbeating
    samples = []
    for _ in range(30):
        samples.append(coordinator.rss())
        await asyncio.sleep(0.1)
    stop.set()
    await asyncio.gather(*streams, return_exceptions=True)
    await asyncio.gather(*(a.close() for a in fleet))
    if tally.assigned:
        raise RuntimeError(f"draining agents were given {tally.assigned} task(s)")
    return float(statistics.median(samples))


async def take_rate(coordinator: CoordinatorProcess, sample: int, name: str) -> float:
    """Tasks/s of WORKERS agents until `sample` reports went out."""
    tally = Tally()
    fleet = [
        SimulatedAgent(coordinator.address, coordinator.contributor_token, f"{name}-{i}", tally)
        for i in range(WORKERS)
    ]
    await asyncio.gather(*(a.register() for a in fleet))
    stop = asyncio.Event()
    started = time.perf_counter()
    streams = [asyncio.create_task(a.work(stop)) for a in fleet]
    while tally.finished < sample:
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - started
    stop.set()
    await asyncio.gather(*streams, return_exceptions=True)
    await asyncio.gather(*(a.close() for a in fleet))
    if tally.refused:
        print(f"  ({tally.refused} fetch(es) refused: attempts the coordinator gave up early)")
    return tally.finished / elapsed


def fill(coordinator: CoordinatorProcess, count: int) -> float:
    """Queue `count` more no-op tasks (groups of at most 100k); inputs/s."""
    started = time.perf_counter()
    with Client(coordinator.address, coordinator.consumer_token, timeout=3600) as client:
        left = count
        while left > 0:
            n = min(left, 100_000)
            client.submit_group(NOOP, (str(i) for i in range(n)))
            left -= n
    return count / (time.perf_counter() - started)


def measure(depths: list[int], sample: int, kind: str) -> list[Depth]:
    heartbeat = 1.0
    rows: list[Depth] = []
    with tempfile.TemporaryDirectory(prefix="runsurge-memory-") as tmp:
        root = Path(tmp)
        with database(kind, root) as url:
            coordinator = CoordinatorProcess(root, url, heartbeat_seconds=heartbeat)
            try:
                rss = asyncio.run(idle_rss(coordinator, heartbeat))
                rows.append(Depth(0, 0.0, rss, None))
                print(f"{0:>10} {'':>10} {rss / 1e6:>8.0f} {rss / TARGET_BYTES:>9.2f}x", flush=True)
                queued = 0
                for depth in depths:
                    # Top up to `depth` plus what the previous rate sample took.
                    fill_rate = fill(coordinator, depth - queued)
                    rss = asyncio.run(idle_rss(coordinator, heartbeat))
                    rate = asyncio.run(take_rate(coordinator, sample, f"work-{depth}"))
                    queued = depth - sample
                    rows.append(Depth(depth, fill_rate, rss, rate))
                    print(
                        f"{depth:>10,} {fill_rate:>10,.0f} {rss / 1e6:>8.0f} "
                        f"{rss / TARGET_BYTES:>9.2f}x {rate:>9,.0f}",
                        flush=True,
                    )
            finally:
                coordinator.stop()
    return rows


def plot(rows: list[Depth], path: Path, kind: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(6.4, 6.0))
    rated = [r for r in rows if r.rate is not None]
    top.plot([r.queued for r in rated], [r.rate for r in rated], marker="o")
    top.set_ylabel("tasks/s (50 simulated agents)")
    top.set_ylim(bottom=0)
    top.set_title(f"Coordinator against queue depth ({kind})")
    top.grid(True, alpha=0.3)
    # The empty queue's RSS is drawn at 100 tasks: a log axis has no 0.
    depths = [max(r.queued, 100) for r in rows]
    bottom.plot(depths, [r.rss / 1e6 for r in rows], marker="o", label="RSS, 200 idle agents")
    bottom.axhline(TARGET_BYTES / 1e6, color="red", linestyle="--", label="target 300 MB")
    bottom.set_ylabel("coordinator RSS (MB)")
    bottom.set_xlabel("queued tasks (the first point: an empty queue)")
    bottom.set_xscale("log")
    bottom.set_ylim(bottom=0)
    bottom.legend()
    bottom.grid(True, alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="depths 1k and 10k, 500 sampled")
    parser.add_argument("--full", action="store_true", help="add a 1M-task depth")
    parser.add_argument("--sample", type=int, default=1000, help="tasks timed per depth")
    parser.add_argument("--db", default="sqlite", choices=["sqlite", "postgres"])
    parser.add_argument("--plot", type=Path, default=DEFAULT_PLOT)
    args = parser.parse_args()
    depths = [1_000, 10_000, 100_000] + ([1_000_000] if args.full else [])
    if args.quick:
        depths, args.sample = [1_000, 10_000], 500
    print(
        f"coordinator on {args.db}; RSS with {IDLE_AGENTS} idle agents connected (target "
        f"{TARGET_BYTES / 1e6:.0f} MB); tasks/s of {WORKERS} agents over {args.sample} tasks"
    )
    print(f"{'queued':>10} {'fill in/s':>10} {'RSS MB':>8} {'/ target':>10} {'tasks/s':>9}")
    rows = measure(depths, args.sample, args.db)
    plot(rows, args.plot, args.db)
    print(f"plot saved to {args.plot}")


if __name__ == "__main__":
    main()
