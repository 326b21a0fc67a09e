"""Failover against the lease: a contributor's death, and coordinator restarts.

Starts a real coordinator and two one-core contributor agents as separate processes
(so that each can be killed on its own) and measures, over several runs:

1. Contributor death: a task runs on one agent; `kill -9` that agent; the time until
   the task's sandbox run starts on the other agent (read from its log). A fresh
   agent replaces the dead one before the next run.
2. Coordinator restarts: a group of short tasks runs on both agents; `kill -9` the
   coordinator while tasks are in flight, keep it down for a short outage (1 s) or a
   long one (past the lease plus the start-up grace), restart it on the same
   database; the reruns are the sandbox runs beyond one per input (agents' logs).

Medians are printed against the configured lease (the ratio time / lease). The
settings are scaled down together so a run takes about two minutes: the start-up
grace still covers the agents' reconnect ceiling (jittered by up to 1.5x), as the
defaults do (25 s against 10 s).

Usage: .venv/bin/python benchmarks/failover.py [--runs 5] [--lease 2]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from runsurge.client import Client

SLEEPER = "import time\ndef process(s):\n    time.sleep(float(s))\n    return {'slept': float(s)}\n"
RECONNECT_MAX = 1.0
_RUNNING = re.compile(r"running job=(\S+) task=(-?\d+) attempt=(\d+)")
_FINISHED = re.compile(r"job=(\S+) task=(-?\d+) attempt=(\d+) finished")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(predicate: Callable[[], bool], timeout: float, what: str, step: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(step)
    raise RuntimeError(f"timed out waiting for {what}")


class Processes:
    """One coordinator and its agents, each a `python -m runsurge` subprocess."""

    def __init__(self, root: Path, lease: float) -> None:
        self.root = root
        self.lease = lease
        # As the defaults do: one lease plus the agents' jittered reconnect ceiling.
        self.grace = lease + RECONNECT_MAX * 1.5
        self.port = _free_port()
        self.coordinator: subprocess.Popen[bytes] | None = None
        self.agents: dict[int, subprocess.Popen[bytes]] = {}
        self._next_agent = 1

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _spawn(self, args: list[str], log: str) -> subprocess.Popen[bytes]:
        out = open(self.root / log, "ab")  # noqa: SIM115 - lives as long as the process
        env = dict(
            os.environ,
            RUNSURGE_HOME=str(self.root / "home"),
            RUNSURGE_COORDINATOR_STARTUP_GRACE_SECONDS=str(self.grace),
            RUNSURGE_CONTRIBUTOR_RECONNECT_MAX_SECONDS=str(RECONNECT_MAX),
        )
        return subprocess.Popen(
            [sys.executable, "-m", "runsurge", *args], stdout=out, stderr=out, env=env
        )

    def start_coordinator(self) -> None:
        self.coordinator = self._spawn(
            [
                "coordinator",
                "--listen",
                self.address,
                "--data-dir",
                str(self.root / "coordinator"),
                "--lease-seconds",
                str(self.lease),
                "--heartbeat-seconds",
                str(self.lease / 5),
                "--skip-scan",
            ],
            "coordinator.log",
        )
        _wait(lambda: (self.root / "coordinator" / "consumer.token").exists(), 30, "the token")
        _wait(self._serving, 30, "the coordinator to serve", step=0.05)

    def _serving(self) -> bool:
        try:
            with self.client() as client:
                client.contributors()
        except Exception:
            return False
        return True

    def kill_coordinator(self) -> None:
        assert self.coordinator is not None
        self.coordinator.send_signal(signal.SIGKILL)
        self.coordinator.wait(10)

    def add_agent(self) -> int:
        n = self._next_agent
        self._next_agent += 1
        before = self.online()
        self.agents[n] = self._spawn(
            [
                "contributor",
                "--coordinator",
                self.address,
                "--token-file",
                str(self.root / "coordinator" / "contributor.token"),
                "--cores",
                "1",
                "--memory",
                "1GiB",
                "--name",
                f"bench-{n}",
                "--work-dir",
                str(self.root / f"agent-{n}"),
            ],
            f"agent-{n}.log",
        )
        _wait(lambda: self.online() > before, 30, f"agent {n} online", step=0.05)
        return n

    def kill_agent(self, n: int) -> None:
        self.agents[n].send_signal(signal.SIGKILL)
        self.agents[n].wait(10)
        del self.agents[n]

    def online(self) -> int:
        with self.client() as client:
            return sum(1 for c in client.contributors() if c["online"])

    def client(self) -> Client:
        token = (self.root / "coordinator" / "consumer.token").read_text().strip()
        return Client(self.address, token)

    def log(self, n: int) -> str:
        return (self.root / f"agent-{n}.log").read_text(errors="replace")

    def runs(self, job_id: str) -> Counter[int]:
        """Sandbox runs started per task index, over every agent's log."""
        logs = "".join(p.read_text(errors="replace") for p in self.root.glob("agent-*.log"))
        return Counter(int(t) for j, t, _ in _RUNNING.findall(logs) if j == job_id)

    def in_flight(self, job_id: str) -> int:
        """Runs started and not finished, over every agent's log."""
        logs = "".join(p.read_text(errors="replace") for p in self.root.glob("agent-*.log"))
        started = {a for j, _, a in _RUNNING.findall(logs) if j == job_id}
        finished = {a for j, _, a in _FINISHED.findall(logs) if j == job_id}
        return len(started - finished)

    def stop(self) -> None:
        procs = [*self.agents.values(), *([self.coordinator] if self.coordinator else [])]
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


def _running_on(cluster: Processes, job_id: str) -> int | None:
    for n in cluster.agents:
        if any(j == job_id for j, _, _ in _RUNNING.findall(cluster.log(n))):
            return n
    return None


def contributor_death(cluster: Processes) -> float:
    """Seconds from `kill -9` of the agent running a task to its run on the other."""
    with cluster.client() as client:
        job = client.submit(SLEEPER, "60")
        _wait(lambda: _running_on(cluster, job.id) is not None, 30, "the task to run")
        doomed = _running_on(cluster, job.id)
        assert doomed is not None
        (survivor,) = [n for n in cluster.agents if n != doomed]
        killed_at = time.monotonic()
        cluster.kill_agent(doomed)
        _wait(
            lambda: any(j == job.id for j, _, _ in _RUNNING.findall(cluster.log(survivor))),
            10 * cluster.lease + 30,
            "the task to run on the survivor",
        )
        elapsed = time.monotonic() - killed_at
        job.cancel()
    cluster.add_agent()
    return elapsed


def coordinator_restart(cluster: Processes, outage: float) -> tuple[int, int]:
    """(reruns, tasks in flight at the kill) for one kill -9 and restart mid-group."""
    inputs = ["1"] * 6
    with cluster.client() as client:
        job = client.submit_group(SLEEPER, inputs)
        _wait(lambda: cluster.in_flight(job.id) >= 2, 30, "two tasks in flight")
    cluster.kill_coordinator()
    in_flight = cluster.in_flight(job.id)
    time.sleep(outage)
    cluster.start_coordinator()
    with cluster.client() as client:
        status = client.job(job.id).wait(timeout=120)
        assert status.tasks.succeeded == len(inputs), status
    _wait(lambda: cluster.in_flight(job.id) == 0, 30, "the agents' logs to settle")
    return sum(cluster.runs(job.id).values()) - len(inputs), in_flight


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--lease", type=float, default=2.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cluster = Processes(Path(tmp), args.lease)
        try:
            cluster.start_coordinator()
            cluster.add_agent()
            cluster.add_agent()
            lease = cluster.lease
            print(
                f"lease {lease:.1f} s, heartbeat {lease / 5:.1f} s, start-up grace "
                f"{cluster.grace:.1f} s, agents reconnect within {RECONNECT_MAX:.1f} s (x1.5)"
            )
            deaths = [contributor_death(cluster) for _ in range(args.runs)]
            median = statistics.median(deaths)
            print(
                f"contributor kill -9 -> task running elsewhere: median {median:.2f} s "
                f"({median / lease:.2f} x lease; runs {', '.join(f'{d:.2f}' for d in deaths)})"
            )
            for name, outage in (
                ("short", 1.0),
                ("long", lease + cluster.grace + 1.0),
            ):
                results = [coordinator_restart(cluster, outage) for _ in range(args.runs)]
                reruns = [r for r, _ in results]
                flight = [f for _, f in results]
                print(
                    f"coordinator kill -9, {name} outage {outage:.1f} s "
                    f"({outage / lease:.1f} x lease): reruns median "
                    f"{statistics.median(reruns):g} (runs {reruns}; in flight {flight})"
                )
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
