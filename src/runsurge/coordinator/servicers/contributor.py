"""ContributorService: registration, the work stream, blob fetch and result upload."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any, TypeAlias

from runsurge.coordinator import contributors
from runsurge.coordinator.app import Coordinator
from runsurge.coordinator.dispatch import AgentSession, CancelOrder, WithdrawOrder
from runsurge.coordinator.interceptor import current_principal
from runsurge.coordinator.servicers.convert import (
    assignment_message,
    benchmark_from_message,
    blob_chunks,
    finished_from_message,
    registration_from_message,
    upload_chunks,
)
from runsurge.coordinator.servicers.convert_billing import earnings_message
from runsurge.coordinator.servicers.convert_samples import node_reading, task_readings
from runsurge.coordinator.status import streaming, unary
from runsurge.coordinator.uploads import receive_result
from runsurge.errors import InvalidRequest
from runsurge.proto.v1 import common_pb2, contributor_pb2, contributor_pb2_grpc

log = logging.getLogger(__name__)
# grpc ships no type information; the servicer context is untyped here.
Context: TypeAlias = Any


class ContributorServicer(contributor_pb2_grpc.ContributorServiceServicer):
    """What contributor agents call."""

    def __init__(self, coordinator: Coordinator) -> None:
        self._c = coordinator

    @unary
    async def GetEarnings(
        self, request: contributor_pb2.GetEarningsRequest, context: Context
    ) -> contributor_pb2.Earnings:
        # The interceptor checked the enrolment token; the secret proves which contributor.
        found = await self._c.db.run(
            contributors.own_earnings, request.contributor_id, request.contributor_secret
        )
        return earnings_message(found)

    @unary
    async def Register(
        self, request: contributor_pb2.RegisterRequest, context: Context
    ) -> contributor_pb2.RegisterResponse:
        # The interceptor checked the enrolment token (configured or `admin add-contributor-token`).
        registered = await self._c.register(registration_from_message(request))
        return contributor_pb2.RegisterResponse(
            contributor_id=registered.contributor_id,
            session_token=registered.session_token,
            contributor_secret=registered.secret,
            heartbeat_interval_seconds=self._c.settings.heartbeat_interval_seconds,
            lease_seconds=self._c.settings.lease_seconds,
        )

    @streaming
    async def Work(
        self, request_iterator: AsyncIterator[contributor_pb2.AgentMessage], context: Context
    ) -> AsyncIterator[contributor_pb2.CoordinatorMessage]:
        principal = current_principal()
        # Opening and closing the session are not this handler's to finish. When the
        # agent hangs up, gRPC cancels the handler wherever it is: a cancel in a
        # database call drops the call if no thread has started it (a lost OFFLINE
        # leaves the contributor DRAINING or ONLINE for good), or lets it commit unawaited
        # (ONLINE, with no session to close). So the session opens in a task of its own,
        # and closes in another once the RPC is over, however it ended.
        opening = asyncio.ensure_future(self._c.open_work_stream(principal.id))
        reader: asyncio.Task[None] | None = None
        context.add_done_callback(lambda _: self._c.spawn(self._closed(opening, reader)))
        session = await asyncio.shield(opening)
        reader = asyncio.create_task(self._read(session, request_iterator))
        while True:
            item = await session.outbox.get()
            if item is None:
                return
            if isinstance(item, CancelOrder):
                yield contributor_pb2.CoordinatorMessage(
                    cancel=contributor_pb2.CancelAttempt(
                        attempt_id=item.attempt_id, reason=item.reason
                    )
                )
            elif isinstance(item, WithdrawOrder):
                yield contributor_pb2.CoordinatorMessage(
                    withdraw=contributor_pb2.WithdrawAssignment(attempt_id=item.attempt_id)
                )
            else:
                yield contributor_pb2.CoordinatorMessage(assignment=assignment_message(item))

    async def _closed(
        self, opening: asyncio.Future[AgentSession], reader: asyncio.Task[None] | None
    ) -> None:
        """After a Work RPC: stop reading its stream, then close its session once open.

        Reading stops first, so that no heartbeat of this stream is recorded after the
        contributor went offline.
        """
        if reader is not None:
            reader.cancel()
            await asyncio.wait([reader])
        try:
            session = await opening
        except Exception:
            return  # it never opened; the RPC ended with that error
        await self._c.close_work_stream(session)
        log.info("contributor %s work stream closed", session.contributor_id)

    async def _read(
        self, session: AgentSession, request_iterator: AsyncIterator[contributor_pb2.AgentMessage]
    ) -> None:
        try:
            async for message in request_iterator:
                kind = message.WhichOneof("kind")
                if kind == "heartbeat":
                    beat = message.heartbeat
                    await self._c.heartbeat(
                        session,
                        list(beat.running_attempt_ids),
                        list(beat.reported_attempt_ids),
                        beat.draining,
                        # Unset by agents that do not measure it: place by the offer.
                        beat.free_memory_bytes if beat.HasField("free_memory_bytes") else None,
                        beat.last_assignment_id if beat.HasField("last_assignment_id") else None,
                    )
                elif kind == "finished":
                    await self._finished(session, message.finished)
                elif kind == "task_samples":
                    self._c.samples.add_tasks(
                        session.contributor_id, task_readings(message.task_samples)
                    )
                elif kind == "benchmark":
                    await self._benchmark(session, message.benchmark)
                elif kind == "node_sample":
                    self._c.samples.add_node(
                        session.contributor_id, node_reading(message.node_sample)
                    )
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("work stream of %s failed", session.contributor_id)
        finally:
            session.outbox.put_nowait(None)

    async def _benchmark(self, session: AgentSession, msg: contributor_pb2.BenchmarkResult) -> None:
        try:
            result = benchmark_from_message(msg)
        except InvalidRequest as exc:
            log.warning("contributor %s: benchmark refused: %s", session.contributor_id, exc)
            return
        await self._c.benchmark_reported(session.contributor_id, result)

    async def _finished(self, session: AgentSession, msg: contributor_pb2.AttemptFinished) -> None:
        try:
            report = finished_from_message(msg)
        except InvalidRequest as exc:  # an outcome this coordinator does not know
            self._c.report_refused(session.contributor_id, msg.attempt_id, exc)
            return
        await self._c.attempt_finished(session.contributor_id, report)

    @streaming
    async def FetchBlob(
        self, request: contributor_pb2.FetchBlobRequest, context: Context
    ) -> AsyncIterator[common_pb2.Chunk]:
        principal = current_principal()
        sha = await self._c.db.run(contributors.authorize_fetch, principal.id, request.sha256)
        for chunk in blob_chunks(self._c.blobs, sha):
            yield chunk

    @unary
    async def UploadResult(
        self, request_iterator: AsyncIterator[common_pb2.Chunk], context: Context
    ) -> contributor_pb2.UploadResultResponse:
        current_principal()
        ref = await receive_result(self._c.blobs, upload_chunks(request_iterator))
        return contributor_pb2.UploadResultResponse(sha256=ref.sha256, size=ref.size)
