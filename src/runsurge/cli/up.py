"""`runsurge up`: a coordinator and N contributors on this machine, in one process tree.

The children are real processes talking gRPC over loopback, exactly as on a cluster.
`up` waits until the coordinator answers health checks and every contributor has
registered, writes the client config so other commands find the coordinator (and,
when billing is enforced, credits the local consumer so the demo runs), and on
Ctrl-C (or SIGTERM) stops the contributors (handing their running tasks back), then
the coordinator.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Annotated

import grpc
import typer
from grpc_health.v1 import health_pb2, health_pb2_grpc

from runsurge.cli import output
from runsurge.client import Client
from runsurge.config import (
    ClientSettings,
    ContributorSettings,
    default_home,
    env_var,
    write_client_config,
)
from runsurge.errors import RunSurgeError

START_TIMEOUT = 60.0
# The benchmark budget of `up`'s agents (a real contributor takes 5 s).
LOCAL_BENCHMARK_SECONDS = "1"
# The local consumer's available money `up` tops up to when billing is enforced.
UP_CREDIT = Decimal(1000)


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(address: str, timeout: float, process: subprocess.Popen[bytes]) -> None:
    """Block until the coordinator's health service says SERVING."""
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RunSurgeError(f"the coordinator exited with code {process.returncode}")
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.1)
    raise RunSurgeError(f"the coordinator at {address} did not become healthy in {timeout:.0f}s")


@dataclass
class LocalCluster:
    """The processes `up` started, and how to stop them."""

    address: str
    data_dir: Path
    coordinator: subprocess.Popen[bytes] | None = None
    contributors: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[IO[bytes]] = field(default_factory=list)

    def spawn(
        self, args: list[str], log_name: str, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        log_file = open(self.data_dir / log_name, "ab")  # noqa: SIM115 - closed in stop()
        self.logs.append(log_file)
        return subprocess.Popen(
            [sys.executable, "-m", "runsurge", *args],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**(env or {}), **os.environ},  # the caller's own environment wins
        )

    def stop(self) -> None:
        """Stop contributors first (their tasks are handed back), then the coordinator.

        An agent drains on its first SIGTERM and hands its running tasks back on the
        second; stopping `up` means stopping now, so each gets both.
        """
        for proc in self.contributors:
            _terminate(proc)
        time.sleep(0.2)  # two signals sent back to back may arrive as one
        for proc in self.contributors:
            _terminate(proc)
        for proc in self.contributors:
            _reap(proc, 15)
        if self.coordinator is not None:
            _terminate(self.coordinator)
            _reap(self.coordinator, 15)
        for log_file in self.logs:
            log_file.close()


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)


def _reap(proc: subprocess.Popen[bytes], timeout: float) -> None:
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def up(
    contributors: Annotated[int, typer.Option(help="How many local contributor agents.")] = 2,
    port: Annotated[int, typer.Option(help="Coordinator port (0 picks a free one).")] = 7070,
    data_dir: Annotated[
        Path | None, typer.Option(help="State directory (default ~/.runsurge/local).")
    ] = None,
    cores: Annotated[int, typer.Option(help="Cores each contributor offers.")] = 1,
    memory: Annotated[str, typer.Option(help="Memory each contributor offers.")] = "1GiB",
    db: Annotated[str, typer.Option("--db", help="Database URL (default SQLite).")] = "",
    insecure_dev: Annotated[
        bool, typer.Option("--insecure-dev", help="Let contributors run without the full sandbox.")
    ] = False,
) -> None:
    """Start a local coordinator and contributors; stop them with Ctrl-C."""
    if contributors < 0:
        raise typer.BadParameter("--contributors must be 0 or more")
    home = data_dir or default_home() / "local"
    home.mkdir(parents=True, exist_ok=True)
    address = f"127.0.0.1:{port or free_port()}"
    cluster = LocalCluster(address, home)
    stop_requested = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        _start(cluster, contributors, cores, memory, db, insecure_dev)
        while not stop_requested:
            if cluster.coordinator is not None and cluster.coordinator.poll() is not None:
                output.err.print("[red]the coordinator exited; stopping[/]")
                raise typer.Exit(1)
            time.sleep(0.2)
    finally:
        output.err.print("stopping local cluster…")
        cluster.stop()
    output.err.print("stopped")


def _start(
    cluster: LocalCluster, n: int, cores: int, memory: str, db: str, insecure_dev: bool
) -> None:
    coordinator_dir = cluster.data_dir / "coordinator"
    args = ["coordinator", "--listen", cluster.address, "--data-dir", str(coordinator_dir)]
    if db:
        args += ["--db", db]
    cluster.coordinator = cluster.spawn(args, "coordinator.log")
    try:
        wait_healthy(cluster.address, START_TIMEOUT, cluster.coordinator)
    except RunSurgeError as exc:
        raise RunSurgeError(
            f"{exc}:\n  {_log_tail(cluster.data_dir / 'coordinator.log')}"
        ) from None
    consumer_token = (coordinator_dir / "consumer.token").read_text().strip()
    config_path = ClientSettings().config
    write_client_config(config_path, cluster.address, consumer_token)
    _credit_local_consumer(cluster, coordinator_dir, db, consumer_token)
    for i in range(n):
        agent_args = [
            "contributor",
            "--coordinator",
            cluster.address,
            "--token-file",
            str(coordinator_dir / "contributor.token"),
            "--cores",
            str(cores),
            "--memory",
            memory,
            "--name",
            f"local-{i + 1}",
            "--work-dir",
            str(cluster.data_dir / f"contributor-{i + 1}"),
        ]
        if insecure_dev:
            agent_args.append("--insecure-dev")
        # Local agents share one machine: a short benchmark each, unless the environment
        # asks for another (its variables win in spawn).
        env = {env_var(ContributorSettings, "benchmark_seconds"): LOCAL_BENCHMARK_SECONDS}
        cluster.contributors.append(cluster.spawn(agent_args, f"contributor-{i + 1}.log", env))
    _wait_contributors(cluster, consumer_token, n)
    output.err.print(
        f"[green]ready[/]: coordinator on [bold]{cluster.address}[/], {n} contributor(s) "
        f"({cores} core(s), {memory} each)\n"
        f"  client config: {config_path}\n"
        f"  logs: {cluster.data_dir}/*.log\n"
        "  try: runsurge submit SCRIPT INPUT --wait    (Ctrl-C here stops everything)"
    )
    print(f"READY {cluster.address}", flush=True)


def _credit_local_consumer(cluster: LocalCluster, data_dir: Path, db: str, token: str) -> None:
    """Top the local consumer up to UP_CREDIT when billing is enforced (else: no need)."""
    from runsurge.cli.admin import with_db
    from runsurge.coordinator.accounts import credit_by_token

    with Client(cluster.address, token) as client:
        available = client.balance().available
    if available is None or available >= UP_CREDIT:
        return
    with_db(db or None, data_dir, credit_by_token, token, UP_CREDIT - available)
    output.err.print(f"credited the local consumer {UP_CREDIT - available:f} (runsurge up)")


def _wait_contributors(cluster: LocalCluster, token: str, n: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    with Client(cluster.address, token) as client:
        while time.monotonic() < deadline:
            for i, proc in enumerate(cluster.contributors):
                if proc.poll() is not None:
                    tail = _log_tail(cluster.data_dir / f"contributor-{i + 1}.log")
                    raise RunSurgeError(
                        f"contributor {i + 1} exited with code {proc.returncode}:\n  {tail}"
                    )
            online = [c for c in client.contributors() if c["online"]]
            if len(online) >= n:
                return
            time.sleep(0.2)
    raise RunSurgeError(f"contributors did not register within {START_TIMEOUT:.0f}s")


def _log_tail(path: Path, lines: int = 5) -> str:
    """The last lines of a child's log, indented, for an error message."""
    try:
        text = path.read_text(errors="replace").strip().splitlines()[-lines:]
    except OSError:
        return f"(no log at {path})"
    return "\n  ".join(text)
