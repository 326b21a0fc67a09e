"""Simulated contributors: the real gRPC protocol, no sandbox, many in one process.

A `SimulatedAgent` does what runsurge/contributor/agent.py does on the wire and
nothing else: Register with the enrolment token, one Work stream, a heartbeat every
interval the coordinator asks for (listing what it runs and the reports it holds),
the script fetched once with FetchBlob, each assignment answered at once with an
AttemptFinished carrying a tiny inline result, and each report held until the
coordinator's CancelAttempt says it was recorded. An input that did not come inline
is fetched with FetchBlob and discarded (its bytes counted). `take_work=False`
registers as draining: connected, heartbeating, never given a task.

All agents share one event loop but each has its own channel (its own HTTP/2
connection), as separate machines would.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import grpc

from runsurge.contributor import wire
from runsurge.proto.v1 import common_pb2, contributor_pb2, contributor_pb2_grpc

RESULT = b'{"ok": true}'
GiB = 2**30


@dataclass
class Tally:
    """What every agent of a run saw, for throughput: counts and first/last times."""

    assigned: int = 0
    finished: int = 0
    recorded: int = 0  # reports the coordinator said it was done with
    fetched_bytes: int = 0
    refused: int = 0  # fetches refused: the attempt was no longer this agent's
    first_assigned: float | None = None
    last_finished: float | None = None
    all_recorded: asyncio.Event = field(default_factory=asyncio.Event)
    expect: int = 0  # set all_recorded once this many reports were recorded

    def assignment(self) -> None:
        self.assigned += 1
        if self.first_assigned is None:
            self.first_assigned = time.perf_counter()

    def finish(self) -> None:
        self.finished += 1
        self.last_finished = time.perf_counter()

    def record(self) -> None:
        self.recorded += 1
        if self.expect and self.recorded >= self.expect:
            self.all_recorded.set()


class SimulatedAgent:
    """One contributor speaking the agent's protocol, answering every task at once."""

    def __init__(
        self,
        address: str,
        enrolment_token: str,
        name: str,
        tally: Tally,
        *,
        cores: int = 4,
        memory_bytes: int = 64 * GiB,
        take_work: bool = True,
    ) -> None:
        self.address = address
        self.name = name
        self.tally = tally
        self._token = enrolment_token
        self._cores = cores
        self._memory = memory_bytes
        self._take_work = take_work
        self._channel: grpc.aio.Channel | None = None
        self._stub: contributor_pb2_grpc.ContributorServiceStub | None = None
        self._session = ""
        self._interval = 1.0
        self._outbox: asyncio.Queue[contributor_pb2.AgentMessage] = asyncio.Queue()
        self._running: set[int] = set()
        self._held: set[int] = set()
        self._scripts: set[str] = set()
        self._fetches: set[asyncio.Task[None]] = set()
        self.connected = asyncio.Event()

    async def register(self) -> None:
        """Register (the enrolment token) and keep the session token for the stream."""
        self._channel = grpc.aio.insecure_channel(self.address, options=wire.CHANNEL_OPTIONS)
        self._stub = contributor_pb2_grpc.ContributorServiceStub(self._channel)
        reply = await self._stub.Register(
            contributor_pb2.RegisterRequest(
                name=self.name,
                cores=self._cores,
                memory_bytes=self._memory,
                isolation_level="simulated",
                insecure=True,
                agent_version="benchmark",
                restarted=True,
                draining=not self._take_work,
            ),
            metadata=wire.bearer(self._token),
            timeout=30,
        )
        self._session = reply.session_token
        self._interval = reply.heartbeat_interval_seconds or 1.0

    async def work(self, stop: asyncio.Event) -> None:
        """Keep the Work stream open until `stop`; answer what it assigns."""
        assert self._stub is not None, "register() first"
        call = self._stub.Work(self._outgoing(), metadata=wire.bearer(self._session))
        beats = asyncio.create_task(self._heartbeats())
        reader = asyncio.create_task(self._incoming(call))
        self.connected.set()
        stopper = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({reader, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if reader.done():
                reader.result()
        finally:
            beats.cancel()
            stopper.cancel()
            call.cancel()
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, grpc.aio.AioRpcError):
                await reader

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()

    async def _outgoing(self) -> AsyncIterator[contributor_pb2.AgentMessage]:
        while True:
            yield await self._outbox.get()

    def _heartbeat(self) -> contributor_pb2.AgentMessage:
        return contributor_pb2.AgentMessage(
            heartbeat=contributor_pb2.Heartbeat(
                running_attempt_ids=sorted(self._running),
                reported_attempt_ids=sorted(self._held),
                draining=not self._take_work,
            )
        )

    async def _heartbeats(self) -> None:
        while True:
            self._outbox.put_nowait(self._heartbeat())
            await asyncio.sleep(self._interval)

    async def _incoming(self, call: grpc.aio.StreamStreamCall) -> None:
        async for message in call:
            kind = message.WhichOneof("kind")
            if kind == "assignment":
                self.tally.assignment()
                a = message.assignment
                self._running.add(a.attempt_id)
                if a.has_input_inline and a.script_sha256 in self._scripts:
                    self._finish(a.attempt_id)
                else:
                    fetch = asyncio.create_task(self._fetch_then_finish(a))
                    self._fetches.add(fetch)  # a reference, so the task is not collected
                    fetch.add_done_callback(self._fetches.discard)
            elif kind == "cancel":
                attempt_id = message.cancel.attempt_id
                if attempt_id in self._held:
                    self._held.discard(attempt_id)
                    self.tally.record()
                else:
                    self._running.discard(attempt_id)

    async def _fetch_then_finish(self, a: contributor_pb2.Assignment) -> None:
        try:
            if a.script_sha256 not in self._scripts:
                await self._fetch(a.script_sha256)
                self._scripts.add(a.script_sha256)
            if not a.has_input_inline:
                self.tally.fetched_bytes += await self._fetch(a.input_sha256)
        except grpc.aio.AioRpcError:
            # Refused: the coordinator already gave the attempt up (a heartbeat it read
            # late did not list it). The real agent reports INFRASTRUCTURE, which the
            # coordinator ignores as late; counting it is enough here.
            self._running.discard(a.attempt_id)
            self.tally.refused += 1
            return
        self._finish(a.attempt_id)

    async def _fetch(self, sha256: str) -> int:
        """FetchBlob, discarding the bytes; how many arrived."""
        assert self._stub is not None
        size = 0
        call = self._stub.FetchBlob(
            contributor_pb2.FetchBlobRequest(sha256=sha256), metadata=wire.bearer(self._session)
        )
        async for chunk in call:
            size += len(chunk.data)
        return size

    def _finish(self, attempt_id: int) -> None:
        if attempt_id not in self._running:
            return  # cancelled meanwhile
        self._running.discard(attempt_id)
        self._held.add(attempt_id)
        self.tally.finish()
        self._outbox.put_nowait(
            contributor_pb2.AgentMessage(
                finished=contributor_pb2.AttemptFinished(
                    attempt_id=attempt_id,
                    outcome="OK",
                    result_json=RESULT,
                    usage=common_pb2.Usage(
                        wall_seconds=0.001,
                        cpu_seconds=0.001,
                        peak_memory_bytes=2**20,
                        average_memory_bytes=2**20,
                        samples=1,
                        memory_source="simulated",
                    ),
                )
            )
        )
        # The next heartbeat lists the report; the coordinator answers with a cancel.
