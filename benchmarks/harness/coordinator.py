"""A real coordinator process on a fresh database, for the benchmarks beside it.

The benchmarks start `python -m runsurge coordinator` as tests/integration/cluster.py
does, on SQLite in its data directory or on a PostgreSQL database created for the
run and dropped after it, and read its RSS and CPU time with psutil.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import psutil
from grpc_health.v1 import health_pb2, health_pb2_grpc

PG_ADMIN_URL = os.environ.get("RUNSURGE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, step: float = 0.05) -> None:
    """Poll `predicate` until true, or raise naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(step)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


def postgres_reason() -> str | None:
    """None when PostgreSQL answers at PG_ADMIN_URL, else why not."""
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:
        return f"PostgreSQL at {PG_ADMIN_URL} unreachable: {exc}"
    return None


@contextlib.contextmanager
def database(kind: str, root: Path) -> Iterator[str]:
    """A database URL for one run: a SQLite file in `root`, or a fresh PostgreSQL database."""
    if kind == "sqlite":
        yield f"sqlite:///{root / 'bench.sqlite3'}"
        return
    import psycopg

    name = f"rs_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class CoordinatorProcess:
    """`python -m runsurge coordinator` on a loopback port, scan skipped, logs in `root`."""

    def __init__(
        self,
        root: Path,
        db_url: str,
        *,
        lease_seconds: float = 30.0,
        heartbeat_seconds: float = 1.0,
        env: dict[str, str] | None = None,
    ) -> None:
        self.root = root
        self.port = free_port()
        self.data_dir = root / "coordinator"
        log = open(root / "coordinator.log", "ab")  # noqa: SIM115 - lives as long as the process
        args = [
            "coordinator",
            "--listen",
            self.address,
            "--data-dir",
            str(self.data_dir),
            "--db",
            db_url,
            "--skip-scan",
            "--lease-seconds",
            str(lease_seconds),
            "--heartbeat-seconds",
            str(heartbeat_seconds),
        ]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "runsurge", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(os.environ, RUNSURGE_HOME=str(root / "home"), **(env or {})),
        )
        self.ps = psutil.Process(self.proc.pid)
        self._wait_serving()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def consumer_token(self) -> str:
        return (self.data_dir / "consumer.token").read_text().strip()

    @property
    def contributor_token(self) -> str:
        return (self.data_dir / "contributor.token").read_text().strip()

    def _wait_serving(self) -> None:
        with grpc.insecure_channel(self.address) as ch:
            stub = health_pb2_grpc.HealthStub(ch)

            def serving() -> bool:
                if self.proc.poll() is not None:
                    log = (self.root / "coordinator.log").read_text(errors="replace")
                    raise RuntimeError(f"coordinator exited:\n{log[-3000:]}")
                if not (self.data_dir / "contributor.token").exists():
                    return False
                try:
                    reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=0.5)
                except grpc.RpcError:
                    return False
                return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

            wait_for(serving, 60, "the coordinator to serve")

    def rss(self) -> int:
        """Resident set size now, in bytes."""
        return int(self.ps.memory_info().rss)

    def cpu_seconds(self) -> float:
        """User + system CPU time so far."""
        t = self.ps.cpu_times()
        return float(t.user + t.system)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def own_cpu_seconds() -> float:
    """This process's user + system CPU time so far (the simulated agents' cost)."""
    t = psutil.Process().cpu_times()
    return float(t.user + t.system)


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def mib(n: float) -> str:
    return f"{n / 2**20:.0f} MiB"
