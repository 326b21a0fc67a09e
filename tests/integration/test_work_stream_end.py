"""A Work stream's end is recorded however the agent hangs up, and whenever it does.

When an agent hangs up, gRPC cancels the coordinator's Work handler wherever it is. A
cancel that lands in a database call drops that call if no worker thread has started
it yet, and abandons it half-way otherwise; neither may lose the contributor's going
offline. These tests hold the database at the moment that matters, so they run in one
process: the real ContributorServicer behind the real AuthInterceptor on a loopback
port, a real Coordinator on SQLite and PostgreSQL, and a real gRPC client as the agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import psycopg
import pytest
from sqlalchemy.orm import Session

from runsurge.config import CoordinatorSettings
from runsurge.coordinator.app import Coordinator, build_coordinator
from runsurge.coordinator.interceptor import AuthInterceptor
from runsurge.coordinator.servicers.contributor import ContributorServicer
from runsurge.proto.v1 import contributor_pb2, contributor_pb2_grpc
from runsurge.store.models import Contributor
from runsurge.store.states import ContributorState
from tests.integration.rpc import auth

# More blocked transactions than the database has worker threads (one on SQLite, four
# on PostgreSQL): whatever the coordinator submits next waits, not yet started.
BUSY_TRANSACTIONS = 16
Outgoing = asyncio.Queue[contributor_pb2.AgentMessage | None]


def _built(db_url: str, tmp_path: Path) -> Iterator[Coordinator]:
    built = build_coordinator(
        CoordinatorSettings(data_dir=tmp_path / "coordinator", db_url=db_url), gate=None
    )
    try:
        yield built
    finally:
        built.db.close()


@pytest.fixture
def coordinator(db_url: str, tmp_path: Path) -> Iterator[Coordinator]:
    """A coordinator on SQLite, then on PostgreSQL; its loops are not started."""
    yield from _built(db_url, tmp_path)


@pytest.fixture
def pg_coordinator(postgres_url: str, tmp_path: Path) -> Iterator[Coordinator]:
    """A coordinator on PostgreSQL, which shows when a transaction waits for a lock."""
    yield from _built(postgres_url, tmp_path)


class WorkEnded(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Sets `ended` once a Work RPC is over as gRPC sees it (its done callbacks ran)."""

    def __init__(self) -> None:
        self.ended = asyncio.Event()

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None or not details.method.endswith("/Work"):
            return handler
        inner = handler.stream_stream

        async def watched(requests: Any, context: Any) -> AsyncIterator[Any]:
            context.add_done_callback(lambda _: self.ended.set())
            async for reply in inner(requests, context):
                yield reply

        return grpc.stream_stream_rpc_method_handler(
            watched, handler.request_deserializer, handler.response_serializer
        )


@contextlib.asynccontextmanager
async def _served(
    coordinator: Coordinator,
) -> AsyncIterator[tuple[contributor_pb2_grpc.ContributorServiceStub, WorkEnded]]:
    """The coordinator's ContributorService on a loopback port, and a stub that calls it."""
    watch = WorkEnded()
    server = grpc.aio.server(interceptors=[AuthInterceptor(coordinator.identify), watch])
    contributor_pb2_grpc.add_ContributorServiceServicer_to_server(
        ContributorServicer(coordinator), server
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield contributor_pb2_grpc.ContributorServiceStub(channel), watch
    finally:
        await server.stop(None)
        await coordinator.stop_background()


async def _register(
    coordinator: Coordinator, stub: contributor_pb2_grpc.ContributorServiceStub
) -> contributor_pb2.RegisterResponse:
    return await stub.Register(
        contributor_pb2.RegisterRequest(
            name="hangs-up", cores=1, memory_bytes=1 << 30, agent_version="test"
        ),
        metadata=auth(coordinator.contributor_token),
        timeout=10,
    )


async def _messages(outgoing: Outgoing) -> AsyncIterator[contributor_pb2.AgentMessage]:
    while (message := await outgoing.get()) is not None:
        yield message


async def _until(predicate: Callable[[], Awaitable[bool]], what: str, timeout: float = 20) -> None:
    """Poll `predicate` until true, or fail naming `what`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await predicate():
        assert loop.time() < deadline, f"timed out after {timeout:.0f}s waiting for {what}"
        await asyncio.sleep(0.05)


def _standing(session: Session, contributor_id: str) -> tuple[ContributorState, str]:
    contributor = session.get(Contributor, contributor_id)
    assert contributor is not None
    return contributor.state, contributor.state_reason


async def _offline(coordinator: Coordinator, contributor_id: str) -> None:
    """Wait until the contributor went OFFLINE because its stream closed.

    The reason tells that move apart from the OFFLINE it registered with.
    """
    closed = (ContributorState.OFFLINE, "work stream closed")

    async def offline() -> bool:
        return await coordinator.db.run(_standing, contributor_id) == closed

    await _until(offline, f"contributor {contributor_id} to go OFFLINE: its stream closed")


def _wait(_session: Session, release: threading.Event) -> None:
    release.wait(60)


def test_agent_hanging_up_while_the_database_is_busy_is_still_marked_offline(
    coordinator: Coordinator,
) -> None:
    # An exiting agent: its stream ends, and a moment later its call is cancelled. The
    # coordinator queues the contributor's going offline behind a busy database, then
    # gRPC's cancel arrives while it waits.
    async def body() -> None:
        release = threading.Event()
        async with _served(coordinator) as (stub, watch):
            try:
                reply = await _register(coordinator, stub)
                agent = reply.contributor_id
                outgoing: Outgoing = asyncio.Queue()
                call = stub.Work(_messages(outgoing), metadata=auth(reply.session_token))

                async def attached() -> bool:
                    return agent in coordinator.dispatcher.sessions

                async def detached() -> bool:
                    return not await attached()

                await _until(attached, "the work stream to open")
                busy = [
                    asyncio.ensure_future(coordinator.db.run(_wait, release))
                    for _ in range(BUSY_TRANSACTIONS)
                ]
                outgoing.put_nowait(None)  # the agent is done writing ...
                await _until(detached, "the coordinator to see the stream end")
                call.cancel()  # ... and hangs up
                await asyncio.wait_for(watch.ended.wait(), 20)
                release.set()
                await asyncio.gather(*busy)
                await _offline(coordinator, agent)
            finally:
                release.set()

    asyncio.run(body())


def _waiting_on_a_lock(db_url: str) -> bool:
    """Whether a session of this PostgreSQL database waits for a lock."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchone()
    return row is not None and row[0] > 0


def test_agent_hanging_up_while_its_stream_opens_is_marked_offline_once_it_opened(
    pg_coordinator: Coordinator, postgres_url: str
) -> None:
    # The coordinator is recording the contributor ONLINE (held up by a row lock) when
    # the agent hangs up: once that is recorded, its going offline must follow.
    coordinator, db_url = pg_coordinator, postgres_url

    async def body() -> None:
        async with _served(coordinator) as (stub, watch):
            reply = await _register(coordinator, stub)
            agent = reply.contributor_id
            with psycopg.connect(db_url) as lock:
                lock.execute("SELECT id FROM contributors WHERE id = %s FOR UPDATE", (agent,))
                outgoing: Outgoing = asyncio.Queue()
                call = stub.Work(_messages(outgoing), metadata=auth(reply.session_token))

                async def opening() -> bool:
                    return await asyncio.to_thread(_waiting_on_a_lock, db_url)

                await _until(opening, "the coordinator to wait for the contributor's row")
                call.cancel()
                await asyncio.wait_for(watch.ended.wait(), 20)
                lock.rollback()
            await _offline(coordinator, agent)

    asyncio.run(body())
