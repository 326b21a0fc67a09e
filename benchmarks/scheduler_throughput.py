"""Scheduler throughput: no-op tasks through a real coordinator and 50 simulated agents.

What it measures: how many tasks per second the coordinator schedules and records when
nothing else costs anything. A real `runsurge coordinator` process (scan skipped) on
SQLite, then on a fresh PostgreSQL database, gets one grouped job of N no-op inputs;
once the submission is complete (so upload is not timed), 50 simulated contributors
(harness/agents.py: the agent's real gRPC protocol, Register, the Work stream,
heartbeats, AttemptFinished with a tiny inline result, no sandbox) register and open
their streams. The time runs from the streams opening to the consumer seeing the job
SUCCEEDED. tasks/s is printed per database against the issue's target (5,000/s) as a
ratio, with the median over runs, and the CPU seconds the coordinator and this process
(all 50 agents) spent, per task: when the agents' CPU nears the wall time, the
harness, not the coordinator, is the limit.

    .venv/bin/python benchmarks/scheduler_throughput.py [--quick] [--tasks 5000]
        [--runs 3] [--agents 50] [--slots 4] [--db sqlite,postgres]

--quick: 500 tasks, one run per database. PostgreSQL at RUNSURGE_TEST_PG (default
postgresql://postgres@127.0.0.1:5432/test; a database is created per run and
dropped); skipped with a note when unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from harness.agents import SimulatedAgent, Tally
from harness.coordinator import (
    CoordinatorProcess,
    database,
    median,
    own_cpu_seconds,
    postgres_reason,
)

from runsurge.client import Client

NOOP = "def process(input_data):\n    return {}\n"
TARGET = 5000.0


@dataclass
class Run:
    """One run on one database."""

    tasks: int
    submit_seconds: float
    seconds: float  # streams opened -> job SUCCEEDED, as the consumer sees it
    agent_seconds: float  # first assignment -> last report sent, as the agents see it
    coordinator_cpu: float
    harness_cpu: float

    @property
    def rate(self) -> float:
        return self.tasks / self.seconds


async def drive(
    coordinator: CoordinatorProcess, job_id: str, tasks: int, agents: int, slots: int
) -> Run:
    """Connect the agents, wait for the job, return the timings (submission filled in later)."""
    tally = Tally(expect=tasks)
    fleet = [
        SimulatedAgent(
            coordinator.address, coordinator.contributor_token, f"sim-{i}", tally, cores=slots
        )
        for i in range(agents)
    ]
    await asyncio.gather(*(a.register() for a in fleet))
    stop = asyncio.Event()
    cpu0, own0 = coordinator.cpu_seconds(), own_cpu_seconds()
    started = time.perf_counter()
    streams = [asyncio.create_task(a.work(stop)) for a in fleet]

    def wait_done() -> str:
        with Client(coordinator.address, coordinator.consumer_token) as client:
            return client.job(job_id).wait(timeout=3600).state

    state = await asyncio.to_thread(wait_done)
    elapsed = time.perf_counter() - started
    cpu, own = coordinator.cpu_seconds() - cpu0, own_cpu_seconds() - own0
    stop.set()
    await asyncio.gather(*streams, return_exceptions=True)
    await asyncio.gather(*(a.close() for a in fleet))
    if state != "SUCCEEDED":
        raise RuntimeError(f"job ended {state}")
    if tally.refused:
        print(f"  ({tally.refused} fetch(es) refused: attempts the coordinator gave up early)")
    assert tally.first_assigned is not None and tally.last_finished is not None
    return Run(tasks, 0.0, elapsed, tally.last_finished - tally.first_assigned, cpu, own)


def one_run(kind: str, tasks: int, agents: int, slots: int) -> Run:
    with tempfile.TemporaryDirectory(prefix="runsurge-sched-") as tmp:
        root = Path(tmp)
        with database(kind, root) as url:
            coordinator = CoordinatorProcess(root, url)
            try:
                with Client(coordinator.address, coordinator.consumer_token) as client:
                    started = time.perf_counter()
                    job = client.submit_group(NOOP, [str(i) for i in range(tasks)])
                    submit = time.perf_counter() - started
                run = asyncio.run(drive(coordinator, job.id, tasks, agents, slots))
                run.submit_seconds = submit
                return run
            finally:
                coordinator.stop()


def report(kind: str, runs: list[Run]) -> None:
    rate = median([r.rate for r in runs])
    agent_rate = median([r.tasks / r.agent_seconds for r in runs])
    submit = median([r.tasks / r.submit_seconds for r in runs])
    per_task_ms = median([1000 * r.coordinator_cpu / r.tasks for r in runs])
    harness_share = median([r.harness_cpu / r.seconds for r in runs])
    coord_share = median([r.coordinator_cpu / r.seconds for r in runs])
    print(
        f"{kind:<10} {rate:>9,.0f} {rate / TARGET:>9.3f}x {agent_rate:>11,.0f} "
        f"{submit:>11,.0f} {per_task_ms:>9.2f} {coord_share:>7.2f} {harness_share:>8.2f}"
        f"   runs: {', '.join(f'{r.rate:,.0f}' for r in runs)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="500 tasks, one run per database")
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--slots", type=int, default=4, help="cores each agent offers")
    parser.add_argument("--db", default="sqlite,postgres", help="comma-separated: sqlite,postgres")
    args = parser.parse_args()
    if args.quick:
        args.tasks, args.runs = 500, 1
    results: dict[str, list[Run]] = {}
    for kind in args.db.split(","):
        if kind == "postgres" and (reason := postgres_reason()):
            print(f"skipping PostgreSQL: {reason}")
            continue
        results[kind] = [
            one_run(kind, args.tasks, args.agents, args.slots) for _ in range(args.runs)
        ]
    print(
        f"{args.tasks:,} no-op tasks, {args.agents} simulated agents x {args.slots} slots, "
        f"median of {args.runs} run(s); target {TARGET:,.0f} tasks/s"
    )
    print(
        f"{'database':<10} {'tasks/s':>9} {'/ target':>10} {'agent-side':>11} "
        f"{'submit/s':>11} {'coord ms':>9} {'coord':>7} {'harness':>8}"
    )
    print(
        f"{'':<10} {'':>9} {'':>10} {'tasks/s':>11} {'inputs/s':>11} {'CPU/task':>9} "
        f"{'CPU/wall':>7} {'CPU/wall':>8}"
    )
    for kind, runs in results.items():
        report(kind, runs)


if __name__ == "__main__":
    main()
