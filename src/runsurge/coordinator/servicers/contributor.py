"""ContributorService: registration, the work stream, blob fetch and result upload."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator
from typing import Any, TypeAlias

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from runsurge.coordinator import liveness
from runsurge.coordinator.app import Coordinator
from runsurge.coordinator.attempts import Settlement, finish_attempt
from runsurge.coordinator.auth import (
    Principal,
    authenticate_contributor,
    bearer,
    new_id,
    new_token,
    token_hash,
)
from runsurge.coordinator.dispatch import AgentSession, CancelOrder
from runsurge.coordinator.servicers.convert import (
    assignment_message,
    blob_chunks,
    finished_from_message,
)
from runsurge.coordinator.status import streaming, unary
from runsurge.errors import (
    InvalidRequest,
    LimitExceeded,
    PermissionDenied,
    RunSurgeError,
    Unauthenticated,
)
from runsurge.proto.v1 import common_pb2, contributor_pb2, contributor_pb2_grpc
from runsurge.store.blobs import check_sha256
from runsurge.store.models import Attempt, Contributor, Job, Task, utcnow
from runsurge.store.states import AttemptState, ContributorState, transition

log = logging.getLogger(__name__)
# grpc ships no type information; the servicer context is untyped here.
Context: TypeAlias = Any
MAX_UPLOAD_BYTES = 1024 * 1024 * 1024


def _register(session: Session, request: contributor_pb2.RegisterRequest) -> tuple[str, str]:
    token = new_token("rss")
    contributor = (
        session.get(Contributor, request.contributor_id) if request.contributor_id else None
    )
    if contributor is None:
        contributor = Contributor(id=new_id(), state=ContributorState.OFFLINE)
        session.add(contributor)
    contributor.name = (request.name or "contributor")[:200]
    contributor.cores = request.cores
    contributor.memory_bytes = request.memory_bytes
    contributor.isolation_level = request.isolation_level[:200]
    contributor.insecure = request.insecure
    contributor.benchmark_score = request.benchmark_score or 1.0
    contributor.agent_version = request.agent_version[:50]
    contributor.session_token_sha256 = token_hash(token)
    contributor.last_seen = utcnow()
    return contributor.id, token


def _go_online(session: Session, contributor_id: str) -> tuple[int, int]:
    contributor = session.get(Contributor, contributor_id)
    assert contributor is not None
    contributor.state = transition(contributor.state, ContributorState.ONLINE)
    contributor.last_seen = utcnow()
    return contributor.cores, contributor.memory_bytes


def _may_fetch(session: Session, contributor_id: str, sha: str) -> bool:
    """A contributor may fetch only the script or input of an attempt it is running."""
    found = session.scalar(
        select(Attempt.id)
        .join(Task, Task.id == Attempt.task_id)
        .join(Job, Job.id == Task.job_id)
        .where(
            Attempt.contributor_id == contributor_id,
            Attempt.state == AttemptState.RUNNING,
            or_(Task.input_sha256 == sha, Job.script_sha256 == sha),
        )
        .limit(1)
    )
    return found is not None


class ContributorServicer(contributor_pb2_grpc.ContributorServiceServicer):
    """What contributor agents call."""

    def __init__(self, coordinator: Coordinator) -> None:
        self._c = coordinator

    async def _principal(self, context: Context) -> Principal:
        token = bearer(context.invocation_metadata())
        return await self._c.db.run(authenticate_contributor, token)

    @unary
    async def Register(
        self, request: contributor_pb2.RegisterRequest, context: Context
    ) -> contributor_pb2.RegisterResponse:
        if bearer(context.invocation_metadata()) != self._c.contributor_token:
            raise Unauthenticated("wrong contributor enrolment token")
        if request.cores < 1 or request.memory_bytes < 1:
            raise InvalidRequest("a contributor must offer at least one core and some memory")
        contributor_id, token = await self._c.db.run(_register, request)
        log.info(
            "contributor %s (%s) registered: %d cores, %d bytes, isolation %r%s",
            contributor_id,
            request.name,
            request.cores,
            request.memory_bytes,
            request.isolation_level,
            " INSECURE" if request.insecure else "",
        )
        return contributor_pb2.RegisterResponse(
            contributor_id=contributor_id,
            session_token=token,
            heartbeat_interval_seconds=self._c.settings.heartbeat_interval_seconds,
            lease_seconds=self._c.settings.lease_seconds,
        )

    @streaming
    async def Work(
        self, request_iterator: AsyncIterator[contributor_pb2.AgentMessage], context: Context
    ) -> AsyncIterator[contributor_pb2.CoordinatorMessage]:
        principal = await self._principal(context)
        cores, memory = await self._c.db.run(_go_online, principal.id)
        session = AgentSession(principal.id, cores, memory)
        self._c.dispatcher.attach(session)
        reader = asyncio.create_task(self._read(session, request_iterator))
        try:
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
                else:
                    policy = self._c.settings.default_policy(item.memory_bytes)
                    yield contributor_pb2.CoordinatorMessage(
                        assignment=assignment_message(item, policy)
                    )
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
            self._c.dispatcher.detach(session)
            if principal.id not in self._c.dispatcher.sessions:
                await self._c.db.run(liveness.contributor_gone, principal.id)
            log.info("contributor %s work stream closed", principal.id)

    async def _read(
        self, session: AgentSession, request_iterator: AsyncIterator[contributor_pb2.AgentMessage]
    ) -> None:
        try:
            async for message in request_iterator:
                kind = message.WhichOneof("kind")
                if kind == "heartbeat":
                    await self._heartbeat(session, message.heartbeat)
                elif kind == "finished":
                    await self._finished(session, message.finished)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("work stream of %s failed", session.contributor_id)
        finally:
            session.outbox.put_nowait(None)

    async def _heartbeat(self, session: AgentSession, beat: contributor_pb2.Heartbeat) -> None:
        settings = self._c.settings
        forgotten = await self._c.db.run(
            liveness.heartbeat,
            session.contributor_id,
            list(beat.running_attempt_ids),
            settings.lease_seconds,
            settings.heartbeat_interval_seconds * 3,
        )
        for attempt_id in forgotten:
            settlement = await self._c.db.run(
                liveness.lose_attempt,
                attempt_id,
                self._c.retry_limits,
                "the contributor is not running it",
            )
            self._c.dispatcher.released(session.contributor_id, attempt_id)
            self._c.settled(settlement)

    async def _finished(self, session: AgentSession, msg: contributor_pb2.AttemptFinished) -> None:
        report = finished_from_message(msg)
        try:
            settlement = await self._c.db.run(
                finish_attempt,
                session.contributor_id,
                report,
                self._c.blobs,
                self._c.retry_limits,
            )
        except RunSurgeError as exc:
            log.warning("rejected report from %s: %s", session.contributor_id, exc)
            settlement = Settlement()
        self._c.dispatcher.released(session.contributor_id, report.attempt_id)
        self._c.settled(settlement)

    @streaming
    async def FetchBlob(
        self, request: contributor_pb2.FetchBlobRequest, context: Context
    ) -> AsyncIterator[common_pb2.Chunk]:
        principal = await self._principal(context)
        sha = check_sha256(request.sha256)
        if not await self._c.db.run(_may_fetch, principal.id, sha):
            raise PermissionDenied(f"blob {sha} belongs to no attempt you are running")
        for chunk in blob_chunks(self._c.blobs, sha):
            yield chunk

    @unary
    async def UploadResult(
        self, request_iterator: AsyncIterator[common_pb2.Chunk], context: Context
    ) -> contributor_pb2.UploadResultResponse:
        await self._principal(context)
        writer = self._c.blobs.writer()
        digest = hashlib.sha256()
        size, claimed = 0, ""
        try:
            async for chunk in request_iterator:
                size += len(chunk.data)
                if size > MAX_UPLOAD_BYTES:
                    raise LimitExceeded(f"result larger than {MAX_UPLOAD_BYTES} bytes")
                digest.update(chunk.data)
                writer.write(chunk.data)
                claimed = chunk.sha256 or claimed
            if claimed and claimed != digest.hexdigest():
                raise InvalidRequest("uploaded result does not match its sha256")
            ref = writer.commit()
        except BaseException:
            writer.abort()
            raise
        return contributor_pb2.UploadResultResponse(sha256=ref.sha256, size=ref.size)
