"""Data transfer: a 1 GiB input from consumer to coordinator to contributor, vs raw loopback.

What it measures, in one run, on the same bytes (a file of text, written once):

1. raw: the file copied over one loopback TCP socket from a sender process to a
   receiver process that discards it (1 MiB reads and `sendall`): the wire speed of
   this machine, the baseline.
2. upload: a consumer process (`Client.submit` of the file) to a real coordinator
   process (SQLite, scan skipped), until the submission returns.
3. fetch: a simulated contributor process (harness/agents.py: the agent's real
   protocol, no sandbox) connects once the upload is done, is assigned the task,
   fetches the input with FetchBlob and discards it, and reports.

Each leg's MB/s is printed beside the raw rate and as a ratio of it (the issue's
target: at least 50%), and the whole path (size over upload + fetch time) as well.
Every process's RSS is sampled every 20 ms: its peak above where it started shows
whether any of them held the input in memory (flat memory: a few chunks, not the
size). Medians over runs; `--quick` moves 256 MiB once.

    .venv/bin/python benchmarks/data_transfer.py [--quick] [--size-mib 1024] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

import psutil
from harness.agents import SimulatedAgent, Tally
from harness.coordinator import CoordinatorProcess, database, median

from runsurge.client import Client

NOOP = "def process(input_data):\n    return {'n': len(input_data)}\n"
MiB = 2**20
READ = MiB


def write_input(path: Path, size: int) -> None:
    """`size` bytes of printable text, 1 MiB of random hex repeated (written once per run)."""
    block = os.urandom(MiB // 2).hex().encode()
    with open(path, "wb") as out:
        left = size
        while left > 0:
            out.write(block[:left])
            left -= len(block)


@dataclass
class PeakRss:
    """Samples processes' RSS on a thread; the peak above each one's first sample."""

    procs: dict[str, psutil.Process] = field(default_factory=dict)
    start: dict[str, int] = field(default_factory=dict)
    peak: dict[str, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def watch(self, name: str, pid: int) -> None:
        proc = psutil.Process(pid)
        rss = int(proc.memory_info().rss)
        self.procs[name], self.start[name], self.peak[name] = proc, rss, rss

    def __enter__(self) -> PeakRss:
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            for name, proc in list(self.procs.items()):
                with contextlib.suppress(psutil.Error):  # exited: its last sample stands
                    self.peak[name] = max(self.peak[name], int(proc.memory_info().rss))


def _receive(out: Connection) -> None:
    """Listen, say where; count what one connection sends; say how long it took."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        out.send(listener.getsockname()[1])
        conn, _ = listener.accept()
    started = time.perf_counter()
    buf = bytearray(READ)
    total = 0
    while n := conn.recv_into(buf):
        total += n
    out.send((time.perf_counter() - started, total))


def _send(port: int, path: str, go: Connection) -> None:
    go.send("ready")
    go.recv()
    with socket.create_connection(("127.0.0.1", port)) as s, open(path, "rb") as f:
        while chunk := f.read(READ):
            s.sendall(chunk)


def raw_copy(path: Path, size: int, rss: PeakRss) -> float:
    """Seconds to copy the file over one loopback socket, process to process.

    Both processes are started (and their RSS first read) before the copy begins; the
    receiver times from the connection to the end of the stream.
    """
    ctx = multiprocessing.get_context("spawn")
    theirs, ours = ctx.Pipe()
    receiver = ctx.Process(target=_receive, args=(ours,))
    receiver.start()
    port = theirs.recv()
    go, their_go = ctx.Pipe()
    sender = ctx.Process(target=_send, args=(port, str(path), their_go))
    sender.start()
    assert go.recv() == "ready"
    rss.watch("raw receiver", receiver.pid or 0)
    rss.watch("raw sender", sender.pid or 0)
    go.send("go")
    elapsed, received = theirs.recv()
    sender.join()
    receiver.join()
    if received != size:
        raise RuntimeError(f"raw copy received {received} of {size} bytes")
    return float(elapsed)


def _upload(address: str, token: str, path: str, out: Connection) -> None:
    with Client(address, token, timeout=600) as client:
        out.send("started")
        started = time.perf_counter()
        job = client.submit(NOOP, Path(path))
        out.send((time.perf_counter() - started, job.id))


def _agent(address: str, token: str, out: Connection) -> None:
    async def run() -> tuple[float, int]:
        tally = Tally(expect=1)
        agent = SimulatedAgent(address, token, "sim-fetch", tally, cores=1)
        await agent.register()
        stop = asyncio.Event()
        stream = asyncio.create_task(agent.work(stop))
        out.send("started")
        await tally.all_recorded.wait()
        stop.set()
        await stream
        await agent.close()
        assert tally.first_assigned is not None and tally.last_finished is not None
        return tally.last_finished - tally.first_assigned, tally.fetched_bytes

    out.send(asyncio.run(run()))


def through_runsurge(path: Path, size: int, root: Path, rss: PeakRss) -> tuple[float, float]:
    """(upload seconds, fetch seconds) of the file through a real coordinator."""
    ctx = multiprocessing.get_context("spawn")
    with database("sqlite", root) as url:
        coordinator = CoordinatorProcess(root, url, heartbeat_seconds=0.2)
        try:
            rss.watch("coordinator", coordinator.proc.pid)
            theirs, ours = ctx.Pipe()
            consumer = ctx.Process(
                target=_upload,
                args=(coordinator.address, coordinator.consumer_token, str(path), ours),
            )
            consumer.start()
            assert theirs.recv() == "started"
            rss.watch("consumer", consumer.pid or 0)
            upload, _ = theirs.recv()
            consumer.join()
            theirs, ours = ctx.Pipe()
            agent = ctx.Process(
                target=_agent, args=(coordinator.address, coordinator.contributor_token, ours)
            )
            agent.start()
            assert theirs.recv() == "started"
            rss.watch("contributor", agent.pid or 0)
            fetch, fetched = theirs.recv()
            agent.join()
            if fetched != size:
                raise RuntimeError(f"the contributor fetched {fetched} of {size} bytes")
            return upload, fetch
        finally:
            coordinator.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="256 MiB, one run")
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if args.quick:
        args.size_mib, args.runs = 256, 1
    size = args.size_mib * MiB
    raws, uploads, fetches = [], [], []
    peaks: dict[str, list[int]] = {}
    with tempfile.TemporaryDirectory(prefix="runsurge-transfer-") as tmp:
        path = Path(tmp) / "input.txt"
        write_input(path, size)
        for run in range(args.runs):
            root = Path(tmp) / f"run-{run}"
            root.mkdir()
            with PeakRss() as rss:
                raws.append(raw_copy(path, size, rss))
                upload, fetch = through_runsurge(path, size, root, rss)
            uploads.append(upload)
            fetches.append(fetch)
            for name in rss.procs:
                peaks.setdefault(name, []).append(rss.peak[name] - rss.start[name])
    mb = size / 1e6
    raw = mb / median(raws)
    print(f"{args.size_mib:,} MiB input, median of {args.runs} run(s); target >= 50% of raw")
    print(f"{'leg':<34} {'MB/s':>8} {'/ raw':>7}")
    print(f"{'raw loopback socket (baseline)':<34} {raw:>8.0f} {1:>6.2f}x")
    rows = [
        ("upload: consumer -> coordinator", mb / median(uploads)),
        ("fetch: coordinator -> contributor", mb / median(fetches)),
        (
            "whole path (upload + fetch)",
            mb / median([u + f for u, f in zip(uploads, fetches, strict=True)]),
        ),
    ]
    for name, rate in rows:
        print(f"{name:<34} {rate:>8.0f} {rate / raw:>6.2f}x")
    print()
    print(f"peak RSS above start (median), against the {args.size_mib:,} MiB moved")
    for name, values in peaks.items():
        grown = median([float(v) for v in values])
        print(f"{name:<34} {grown / MiB:>8.0f} MiB {grown / size:>6.1%}")


if __name__ == "__main__":
    main()
