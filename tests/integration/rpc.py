"""Raw gRPC calls with chosen tokens, for tests that play a consumer or contributor by hand."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import grpc

from runsurge.proto.v1 import contributor_pb2, contributor_pb2_grpc
from tests.integration.cluster import Cluster


def auth(token: str) -> tuple[tuple[str, str], ...]:
    """Call metadata presenting `token`."""
    return (("authorization", f"Bearer {token}"),)


def code_of(call: Any) -> grpc.StatusCode:
    """The status a call ends with (OK if it succeeds); streams are drained."""
    try:
        result = call()
        if hasattr(result, "__iter__") and not hasattr(result, "ListFields"):
            list(result)
    except grpc.RpcError as exc:
        return exc.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


def register(channel: grpc.Channel, enrolment_token: str, name: str = "raw") -> Any:
    """Register a hand-played contributor; returns the RegisterResponse."""
    stub = contributor_pb2_grpc.ContributorServiceStub(channel)
    return stub.Register(
        contributor_pb2.RegisterRequest(
            name=name,
            cores=1,
            memory_bytes=1 << 30,
            isolation_level="bwrap+cgroup2+seccomp",
            benchmark_score=1.0,
            agent_version="test",
        ),
        metadata=auth(enrolment_token),
        timeout=10,
    )


def admin(cluster: Cluster, *args: str) -> str:
    """Run `runsurge admin ARGS` on the cluster's database; its stdout."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "runsurge",
            "admin",
            *args,
            "--db-url",
            cluster.db_url,
            "--data-dir",
            str(cluster.data_dir),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def admin_json(cluster: Cluster, *args: str) -> Any:
    """`runsurge admin ARGS --json`, parsed."""
    return json.loads(admin(cluster, *args, "--json"))


class RawAgent:
    """A contributor played by hand over a real Work stream: heartbeats, no sandbox.

    It collects the assignments it is sent and reports only what a test tells it to,
    so that a test can present another agent's attempt id or hold a lease and drop it.
    """

    def __init__(self, channel: grpc.Channel, session_token: str, heartbeat: float = 0.2) -> None:
        self._stub = contributor_pb2_grpc.ContributorServiceStub(channel)
        self._token = session_token
        self._heartbeat = heartbeat
        self._outbox: queue.Queue[contributor_pb2.AgentMessage | None] = queue.Queue()
        self.assignments: list[contributor_pb2.Assignment] = []
        self._stop = threading.Event()
        self._call: Any = None
        self._threads = [
            threading.Thread(target=self._receive, daemon=True),
            threading.Thread(target=self._beat, daemon=True),
        ]

    def __enter__(self) -> RawAgent:
        self._call = self._stub.Work(self._messages(), metadata=auth(self._token))
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """End the Work stream, as an agent that died would."""
        self._stop.set()
        self._outbox.put(None)
        if self._call is not None:
            self._call.cancel()
        for thread in self._threads:
            thread.join(5)

    def report(self, finished: contributor_pb2.AttemptFinished) -> None:
        """Send an AttemptFinished on this agent's stream."""
        self._outbox.put(contributor_pb2.AgentMessage(finished=finished))

    def _messages(self) -> Iterator[contributor_pb2.AgentMessage]:
        while (message := self._outbox.get()) is not None:
            yield message

    def _beat(self) -> None:
        while not self._stop.wait(self._heartbeat):
            running = [a.attempt_id for a in self.assignments]
            beat = contributor_pb2.Heartbeat(running_attempt_ids=running)
            self._outbox.put(contributor_pb2.AgentMessage(heartbeat=beat))

    def _receive(self) -> None:
        try:
            for message in self._call:
                if message.WhichOneof("kind") == "assignment":
                    self.assignments.append(message.assignment)
        except grpc.RpcError:
            pass  # cancelled by close(), or the coordinator ended the stream
