"""A real coordinator and real contributor agents as subprocesses on loopback ports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from runsurge.client import Client
from runsurge.tls import ClientTls, channel

START_TIMEOUT = 30.0


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(
    predicate: Callable[[], bool], timeout: float, what: str, step: float = 0.05
) -> None:
    """Poll `predicate` until true, or fail naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


class PortTaken(Exception):
    """The coordinator could not listen: the port was taken after free_port() chose it."""


@dataclass
class Cluster:
    """Processes of one test's cluster; stopped by the fixture."""

    root: Path
    db_url: str
    lease_seconds: float = 2.0
    heartbeat_seconds: float = 0.3
    port: int = field(default_factory=free_port)
    skip_scan: bool = False
    # How the processes get their settings: command-line flags, or only RUNSURGE_… variables.
    configure_by: Literal["flags", "env"] = "flags"
    coordinator_env: dict[str, str] = field(default_factory=dict)
    contributor_env: dict[str, str] = field(default_factory=dict)
    coordinator: subprocess.Popen[bytes] | None = None
    contributors: list[subprocess.Popen[bytes]] = field(default_factory=list)
    # TLS: the output of `runsurge admin gen-certs` (None: plaintext); `mutual` also
    # verifies contributors' client certificates, on `contributor_port`.
    tls_dir: Path | None = None
    mutual: bool = False
    contributor_port: int = field(default_factory=free_port)
    listen_host: str = "127.0.0.1"
    coordinator_args: list[str] = field(default_factory=list)
    contributor_args: list[str] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def listen(self) -> str:
        return f"{self.listen_host}:{self.port}"

    @property
    def contributor_address(self) -> str:
        """Where agents connect: the mutual-TLS port when there is one."""
        return f"127.0.0.1:{self.contributor_port}" if self.mutual else self.address

    @property
    def client_tls(self) -> ClientTls:
        """What a consumer of this cluster trusts (nothing: plaintext)."""
        return ClientTls(ca=self.tls_dir / "ca.pem") if self.tls_dir else ClientTls()

    @property
    def data_dir(self) -> Path:
        return self.root / "coordinator"

    @property
    def consumer_token(self) -> str:
        return (self.data_dir / "consumer.token").read_text().strip()

    @property
    def env(self) -> dict[str, str]:
        """Environment for CLI subprocesses pointing at this cluster."""
        env = dict(os.environ)
        env.update(
            RUNSURGE_COORDINATOR=self.address,
            RUNSURGE_TOKEN=self.consumer_token,
            RUNSURGE_HOME=str(self.root / "home"),
            COLUMNS="200",
        )
        if self.tls_dir is not None:
            env["RUNSURGE_TLS_CA"] = str(self.tls_dir / "ca.pem")
        return env

    def _spawn(
        self, args: list[str], log_name: str, extra_env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        log = open(self.root / log_name, "ab")  # noqa: SIM115 - lives as long as the process
        env = dict(os.environ, RUNSURGE_HOME=str(self.root / "home"), **(extra_env or {}))
        return subprocess.Popen(
            [sys.executable, "-m", "runsurge", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )

    def start_coordinator(self) -> None:
        settings = [
            ("--listen", "RUNSURGE_COORDINATOR_LISTEN", self.listen),
            ("--data-dir", "RUNSURGE_COORDINATOR_DATA_DIR", str(self.data_dir)),
            ("--lease-seconds", "RUNSURGE_COORDINATOR_LEASE_SECONDS", str(self.lease_seconds)),
            (
                "--heartbeat-seconds",
                "RUNSURGE_COORDINATOR_HEARTBEAT_INTERVAL_SECONDS",
                str(self.heartbeat_seconds),
            ),
        ]
        if self.db_url:
            settings.append(("--db", "RUNSURGE_COORDINATOR_DB_URL", self.db_url))
        if self.skip_scan:
            settings.append(("--skip-scan", "RUNSURGE_COORDINATOR_SKIP_SCAN", ""))
        settings += self._coordinator_tls()
        args, env = self._configure(settings, self.coordinator_env)
        args += self.coordinator_args
        log_path = self.root / "coordinator.log"
        log_start = log_path.stat().st_size if log_path.exists() else 0
        self.coordinator = self._spawn(["coordinator", *args], "coordinator.log", env)
        self._wait_healthy(log_start)

    def _coordinator_tls(self) -> list[tuple[str, str, str]]:
        if self.tls_dir is None:
            return []
        settings = [
            ("--tls-cert", "RUNSURGE_COORDINATOR_TLS_CERT", str(self.tls_dir / "server.pem")),
            ("--tls-key", "RUNSURGE_COORDINATOR_TLS_KEY", str(self.tls_dir / "server-key.pem")),
        ]
        if self.mutual:
            settings += [
                (
                    "--tls-client-ca",
                    "RUNSURGE_COORDINATOR_TLS_CLIENT_CA",
                    str(self.tls_dir / "ca.pem"),
                ),
                (
                    "--contributor-listen",
                    "RUNSURGE_COORDINATOR_CONTRIBUTOR_LISTEN",
                    f"127.0.0.1:{self.contributor_port}",
                ),
            ]
        return settings

    def contributor_tls(self, client_cert: bool = True) -> list[tuple[str, str, str]]:
        """An agent's TLS settings: trust the CA, and show the client certificate."""
        if self.tls_dir is None:
            return []
        settings = [("--tls-ca", "RUNSURGE_CONTRIBUTOR_TLS_CA", str(self.tls_dir / "ca.pem"))]
        if client_cert:
            settings += [
                (
                    "--tls-cert",
                    "RUNSURGE_CONTRIBUTOR_TLS_CERT",
                    str(self.tls_dir / "contributor.pem"),
                ),
                (
                    "--tls-key",
                    "RUNSURGE_CONTRIBUTOR_TLS_KEY",
                    str(self.tls_dir / "contributor-key.pem"),
                ),
            ]
        return settings

    def start_fresh_coordinator(self) -> None:
        """Start the first coordinator, on a new port when another test took this one.

        free_port() only says the port was free a moment ago: a parallel test can bind it
        first, and this coordinator then exits saying it cannot listen.
        """
        for _ in range(3):
            try:
                self.start_coordinator()
                return
            except PortTaken:
                self.port, self.contributor_port = free_port(), free_port()
        self.start_coordinator()

    def _configure(
        self, settings: list[tuple[str, str, str]], extra_env: dict[str, str]
    ) -> tuple[list[str], dict[str, str]]:
        """(flag, variable, value) settings as arguments or as environment (value "" = on)."""
        args: list[str] = []
        env = dict(extra_env)
        for flag, variable, value in settings:
            if self.configure_by == "env":
                env[variable] = value or "true"
            else:
                args += [flag, value] if value else [flag]
        return args, env

    def _wait_healthy(self, log_start: int) -> None:
        """Wait until this start's coordinator serves (its log begins at `log_start`)."""
        assert self.coordinator is not None
        proc = self.coordinator

        def this_start_log() -> str:
            with open(self.root / "coordinator.log", "rb") as log:
                log.seek(log_start)
                return log.read().decode(errors="replace")

        with channel(self.address, self.client_tls, "test", []) as health_channel:
            stub = health_pb2_grpc.HealthStub(health_channel)

            def serving() -> bool:
                if proc.poll() is not None:
                    log = this_start_log()
                    if "cannot listen on" in log:
                        raise PortTaken(self.address)
                    raise AssertionError(f"coordinator exited:\n{log[-4000:]}")
                # Another test's coordinator may answer on a reused port: ours must say
                # it listens (it logs that after binding) before its health counts.
                if f"coordinator listening on {self.listen}" not in this_start_log():
                    return False
                try:
                    reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=0.5)
                except grpc.RpcError:
                    return False
                return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

            wait_until(serving, START_TIMEOUT, "the coordinator to serve")

    def stop_coordinator(self, sig: int = signal.SIGTERM) -> None:
        assert self.coordinator is not None
        self.coordinator.send_signal(sig)
        self.coordinator.wait(20)

    def add_contributor(
        self,
        cores: int = 1,
        memory: str = "1GiB",
        wait: bool = True,
        via: str = "",
        number: int | None = None,
        tls: list[tuple[str, str, str]] | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start an agent (reaching the coordinator at `via`, a proxy, when given).

        `number` restarts agent N: same work dir (so same identity), same log. `tls`
        replaces the cluster's own TLS settings for agents (`contributor_tls()`).
        """
        n = number or len(self.contributors) + 1
        before = self.online_count() if wait else 0
        token_file = self.data_dir / "contributor.token"
        token = (
            ("--token", "RUNSURGE_CONTRIBUTOR_TOKEN", token_file.read_text().strip())
            if self.configure_by == "env"
            else ("--token-file", "", str(token_file))  # a flag only: never used as env
        )
        args, env = self._configure(
            [
                (
                    "--coordinator",
                    "RUNSURGE_CONTRIBUTOR_COORDINATOR",
                    via or self.contributor_address,
                ),
                token,
                ("--cores", "RUNSURGE_CONTRIBUTOR_CORES", str(cores)),
                ("--memory", "RUNSURGE_CONTRIBUTOR_MEMORY_BYTES", memory),
                ("--name", "RUNSURGE_CONTRIBUTOR_NAME", f"test-{n}"),
                (
                    "--work-dir",
                    "RUNSURGE_CONTRIBUTOR_WORK_DIR",
                    str(self.root / f"contributor-{n}"),
                ),
                *(self.contributor_tls() if tls is None else tls),
            ],
            self.contributor_env,
        )
        args += self.contributor_args
        # No benchmark (a run costs 0.4 s per agent start); the machine-factor tests set one.
        env = {"RUNSURGE_CONTRIBUTOR_BENCHMARK_SECONDS": "0", **env}
        proc = self._spawn(["contributor", *args], f"contributor-{n}.log", env)
        if number is None:
            self.contributors.append(proc)
        else:
            self.contributors[number - 1] = proc
        if wait:

            def registered() -> bool:
                assert proc.poll() is None, (
                    f"contributor exited:\n{self.log(f'contributor-{n}.log')}"
                )
                return self.online_count() > before

            wait_until(registered, START_TIMEOUT, f"contributor {n} to come online")
        return proc

    def work_dir(self, number: int) -> Path:
        """Agent N's work dir (its identity file lives there)."""
        return self.root / f"contributor-{number}"

    def contributor_rows(self) -> list[dict[str, object]]:
        """`ListContributors` as the client returns it."""
        with self.client() as client:
            return client.contributors()

    def contributor_state(self, contributor_id: str) -> str:
        """One contributor's state as listed."""
        return str(next(c["state"] for c in self.contributor_rows() if c["id"] == contributor_id))

    def online_count(self) -> int:
        with self.client() as client:
            return sum(1 for c in client.contributors() if c["online"])

    def client(self) -> Client:
        return Client(self.address, self.consumer_token, tls_ca=self.client_tls.ca)

    def log(self, name: str) -> str:
        path = self.root / name
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def stop(self) -> None:
        """Stop every process; agents get a second SIGTERM so they hand work back at once."""
        procs = [*self.contributors, *([self.coordinator] if self.coordinator else [])]
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        time.sleep(0.2)  # two signals sent back to back may arrive as one
        for proc in self.contributors:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def cli(
        self,
        *args: str,
        stdin: bytes | None = None,
        timeout: float = 60,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run `runsurge ARGS` against this cluster (or with `env` instead of `self.env`)."""
        return subprocess.run(
            [sys.executable, "-m", "runsurge", *args],
            input=stdin.decode() if stdin is not None else None,
            capture_output=True,
            text=True,
            env=self.env if env is None else env,
            timeout=timeout,
        )
