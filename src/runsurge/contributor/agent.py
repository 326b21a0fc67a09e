"""The contributor agent's connection to the coordinator and its task slots.

One `Agent` keeps a registration and one work stream alive, reconnecting with backoff
when the coordinator goes away. Assignments become `Execution`s that fetch their
blobs, run through the `TaskRunner` on a worker thread, and report back. A report is
held until the coordinator is done with it (it answers a heartbeat that lists the
report with a CancelAttempt for that attempt): every new stream starts by sending the
held reports again, so a report finished during an outage, or taken off a stream that
broke before delivering it, is never lost. The coordinator ignores duplicates.

The agent keeps its contributor id and identity secret in its work dir (identity.py)
and presents them at every registration, so a restarted agent is the same
contributor. A first SIGTERM drains: the agent says so in an immediate heartbeat and
in every one after, the coordinator places nothing new on it, and running tasks get
`drain_grace_seconds` to finish and be reported. A second SIGTERM, or the grace
running out, hands them back at once: they are stopped and reported CANCELLED, which
the coordinator requeues without counting the attempt against the task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import shutil
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import grpc
import psutil

from runsurge import __version__
from runsurge.billing.benchmark import BenchmarkResult
from runsurge.config import ContributorSettings
from runsurge.contributor import wire
from runsurge.contributor.benchmarking import measure
from runsurge.contributor.blobcache import BlobMismatch, ScriptCache, save_verified
from runsurge.contributor.identity import Identity, load_identity, save_identity
from runsurge.contributor.probing import Prober, estimate_message, predicted_out_of_memory
from runsurge.contributor.sampling import TaskSampler, read_node, start_node_readings
from runsurge.contributor.slots import Slots, free_for_new_tasks
from runsurge.contributor.warm import WarmPool
from runsurge.estimate import Estimate
from runsurge.proto.v1 import contributor_pb2, contributor_pb2_grpc
from runsurge.sandbox.live import LiveUsage
from runsurge.sandbox.outcome import Outcome, OutcomeKind, ScriptError
from runsurge.sandbox.runner import Entrypoint, RunRequest, TaskRunner
from runsurge.tasklog import TaskIds
from runsurge.tls import ClientTls, aio_channel, handshake_hint

log = logging.getLogger(__name__)
RESULT_CHUNK = 1024 * 1024
# How long a task waits for a lost coordinator before its fetch or upload counts as failed.
FETCH_PATIENCE_SECONDS = 60.0
T = TypeVar("T")


@dataclass
class Execution:
    """One attempt running on this agent."""

    attempt_id: int
    assignment: contributor_pb2.Assignment
    cancel: threading.Event
    task: asyncio.Task[None] | None = None
    started: bool = False  # it holds a core: a withdrawal no longer applies
    # The sandbox monitor's latest sample, for live task samples.
    live: LiveUsage = field(default_factory=LiveUsage)

    @property
    def ids(self) -> TaskIds:
        """How its log lines name it."""
        a = self.assignment
        return TaskIds(a.job_id, a.task_index, a.attempt_id)


class Agent:
    """Registers, keeps the work stream open, runs assignments, reports outcomes."""

    def __init__(
        self,
        settings: ContributorSettings,
        runner: TaskRunner,
        *,
        cores: int,
        memory_bytes: int,
        insecure: bool,
    ) -> None:
        self._settings = settings
        self._runner = runner
        self._cores = cores
        self._memory = memory_bytes
        self._insecure = insecure
        self._scripts = ScriptCache(settings.work_dir / "scripts")
        self._tasks_dir = settings.work_dir / "tasks"
        # What the current stream sends (None between streams); each stream has its own,
        # so a dead stream's writer can never take a message meant for the next one.
        self._outbox: asyncio.Queue[contributor_pb2.AgentMessage] | None = None
        # Reports the coordinator has not yet said it is done with, oldest first.
        self._held: dict[int, contributor_pb2.AgentMessage] = {}
        self._running: dict[int, Execution] = {}  # assigned: running or waiting for a slot
        self._warm = WarmPool(max_idle=cores)
        self._prober = Prober(runner)
        # The newest assignment received, for heartbeats (Heartbeat.last_assignment_id).
        self._last_assignment_id = 0
        self._slots = Slots(cores, memory_bytes, idle=self._warm)
        self._pokes: set[asyncio.Task[None]] = set()  # Slots.poke calls in flight
        self._contributor_id = ""
        self._secret = ""
        # Until the first registration succeeds: this process runs none of the attempts
        # a predecessor with the same identity had.
        self._restarted = True
        self._session_token = ""
        self._draining = asyncio.Event()  # first SIGTERM: finish, take nothing new
        self._stopping = asyncio.Event()
        self._stub: contributor_pb2_grpc.ContributorServiceStub | None = None
        self._tls = ClientTls(settings.tls_ca, settings.tls_cert, settings.tls_key)
        self._credentials: grpc.ChannelCredentials | None = None
        self.connected = asyncio.Event()
        self._benchmark: BenchmarkResult | None = None  # the latest run, claimed at Register
        self._benchmark_asked = asyncio.Event()  # benchmark_now(): run it again at once

    @property
    def running_attempts(self) -> list[int]:
        """Attempts in progress on this agent."""
        return [a for a in self._running if a not in self._held]

    @property
    def held_reports(self) -> list[int]:
        """Attempts whose report waits for the coordinator to be done with it."""
        return list(self._held)

    @property
    def contributor_id(self) -> str:
        """The identity the coordinator knows this agent by ("" before the first one)."""
        return self._contributor_id

    def benchmark_now(self) -> None:
        """Run the machine benchmark again now and report it (SIGUSR1)."""
        self._benchmark_asked.set()

    def stop(self) -> None:
        """Ask the agent to finish now: running tasks are handed back (cancelled, reported)."""
        self._stopping.set()

    def shutdown(self) -> None:
        """What a SIGTERM (or SIGINT) asks: drain the first time, hand back the second."""
        if not self._draining.is_set():
            log.info(
                "draining: no new work; %d running task(s) get %.0fs to finish "
                "(signal again to hand them back now)",
                len(self.running_attempts),
                self._settings.drain_grace_seconds,
            )
            self._draining.set()
            self._send(self._heartbeat())  # tell the coordinator at once
            return
        log.warning("second signal: handing back %d running task(s)", len(self.running_attempts))
        self.stop()

    async def run(self) -> None:
        """Stay connected until stopped or drained, reconnecting with jittered backoff.

        Raises ConfigError at once for TLS files that are missing or wrong.
        """
        self._credentials = self._tls.credentials("contributor")
        identity = load_identity(self._settings.work_dir)
        if identity is not None:
            self._contributor_id, self._secret = identity.contributor_id, identity.secret
        shutil.rmtree(self._tasks_dir, ignore_errors=True)
        self._tasks_dir.mkdir(parents=True, exist_ok=True)
        start_node_readings()
        self._benchmark = await self._measure()
        janitor = asyncio.create_task(self._expire_warm())
        drainer = asyncio.create_task(self._drain_when_asked())
        rebenchmark = asyncio.create_task(self._rebenchmark())
        try:
            await self._stay_connected()
        finally:
            janitor.cancel()
            drainer.cancel()
            rebenchmark.cancel()
            await self._shutdown_running()
            await asyncio.to_thread(self._warm.close_all)

    async def _measure(self) -> BenchmarkResult | None:
        """The machine benchmark, or None when benchmark_seconds is 0 (nothing claimed)."""
        s = self._settings
        if s.benchmark_seconds <= 0:
            return None
        return await measure(s.benchmark_seconds, self._cores, s.work_dir)

    async def _rebenchmark(self) -> None:
        """Every benchmark_interval_hours (and when asked), measure again and report it."""
        hours = self._settings.benchmark_interval_hours
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._benchmark_asked.wait(), hours * 3600 if hours else None
                )
            self._benchmark_asked.clear()
            result = await self._measure()
            if result is not None:
                self._benchmark = result
                self._send(contributor_pb2.AgentMessage(benchmark=wire.benchmark_message(result)))

    async def _drain_when_asked(self) -> None:
        """After the first SIGTERM: stop once nothing runs and every report is recorded.

        When the grace runs out first, stopping hands the remaining tasks back.
        """
        await self._draining.wait()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._settings.drain_grace_seconds
        while (self._running or self._held) and loop.time() < deadline:
            await asyncio.sleep(0.1)
        if self._running:
            log.warning(
                "drain grace over: handing back %d running task(s)", len(self.running_attempts)
            )
        else:
            log.info("drained: every task finished and was reported")
        self.stop()

    async def _stay_connected(self) -> None:
        delay = 0.5
        while not self._stopping.is_set():
            try:
                await self._session()
                delay = 0.5
            except grpc.aio.AioRpcError as exc:
                if exc.code() in (
                    grpc.StatusCode.UNAUTHENTICATED,
                    grpc.StatusCode.PERMISSION_DENIED,
                ):
                    log.error("coordinator refused this agent: %s", exc.details())
                    raise
                hint = handshake_hint(exc.details() or "", self._tls.enabled)
                log.warning(
                    "coordinator %s unreachable (%s%s); retrying in %.1fs",
                    self._settings.coordinator,
                    exc.code().name,
                    f": {hint}" if hint else "",
                    delay,
                )
            self.connected.clear()
            self._stub = None
            if self._stopping.is_set():
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay * (0.5 + random.random()))
            delay = min(delay * 2, self._settings.reconnect_max_seconds)

    async def _session(self) -> None:
        async with aio_channel(
            self._settings.coordinator, self._credentials, wire.CHANNEL_OPTIONS
        ) as channel:
            stub = contributor_pb2_grpc.ContributorServiceStub(channel)
            self._stub = stub
            reply = await stub.Register(
                contributor_pb2.RegisterRequest(
                    name=self._settings.name,
                    cores=self._cores,
                    memory_bytes=self._memory,
                    isolation_level=self._runner.isolation_level,
                    insecure=self._insecure,
                    benchmark_score=self._benchmark.factor if self._benchmark else 1.0,
                    benchmark=wire.benchmark_message(self._benchmark) if self._benchmark else None,
                    agent_version=__version__,
                    contributor_id=self._contributor_id,
                    contributor_secret=self._secret,
                    restarted=self._restarted,
                    draining=self._draining.is_set(),
                ),
                metadata=wire.bearer(self._settings.token),
                timeout=10,
            )
            if reply.contributor_secret:  # a new identity: keep it for the next process
                self._secret = reply.contributor_secret
                save_identity(self._settings.work_dir, Identity(reply.contributor_id, self._secret))
            self._contributor_id = reply.contributor_id
            self._restarted = False
            self._session_token = reply.session_token
            log.info("registered as contributor %s", self._contributor_id)
            outbox: asyncio.Queue[contributor_pb2.AgentMessage] = asyncio.Queue()
            for report in self._held.values():
                outbox.put_nowait(report)
            self._outbox = outbox
            call = stub.Work(self._outgoing(outbox), metadata=wire.bearer(self._session_token))
            beats = asyncio.create_task(self._heartbeats(reply.heartbeat_interval_seconds))
            samples = asyncio.create_task(self._samples())
            stopper = asyncio.create_task(self._stopping.wait())
            self.connected.set()
            try:
                reader = asyncio.create_task(self._incoming(call))
                await asyncio.wait({reader, stopper}, return_when=asyncio.FIRST_COMPLETED)
                if reader.done():
                    reader.result()
                else:
                    await self._shutdown_running()
                    await self._drain_outbox()
                    call.cancel()
                    reader.cancel()
                    with contextlib.suppress(asyncio.CancelledError, grpc.aio.AioRpcError):
                        await reader
            finally:
                self._outbox = None
                beats.cancel()
                samples.cancel()
                stopper.cancel()

    async def _incoming(self, call: grpc.aio.StreamStreamCall) -> None:
        async for message in call:
            kind = message.WhichOneof("kind")
            if kind == "assignment":
                self._start(message.assignment)
            elif kind == "cancel":
                self._stop(message.cancel)
            elif kind == "withdraw":
                self._withdraw(message.withdraw.attempt_id)

    def _stop(self, order: contributor_pb2.CancelAttempt) -> None:
        """The coordinator no longer runs this attempt: stop it, forget its report."""
        if self._held.pop(order.attempt_id, None) is not None:
            log.debug("report of attempt %s recorded", order.attempt_id)
            return
        execution = self._running.get(order.attempt_id)
        if execution is not None and not execution.cancel.is_set():
            ids = execution.ids
            log.info("%s cancelling: %s", ids, order.reason, extra=ids.extra)
            execution.cancel.set()
            self._wake_waiters()

    def _withdraw(self, attempt_id: int) -> None:
        """Give back a prefetched assignment that has not started (it reports CANCELLED)."""
        execution = self._running.get(attempt_id)
        if execution is None or execution.started or execution.cancel.is_set():
            return  # started (it runs to the end), or gone already
        log.info("%s withdrawn before it started", execution.ids, extra=execution.ids.extra)
        execution.cancel.set()
        self._wake_waiters()

    def _wake_waiters(self) -> None:
        """Have attempts waiting for a core see that they were cancelled or withdrawn."""
        poke = asyncio.get_running_loop().create_task(self._slots.poke())
        self._pokes.add(poke)
        poke.add_done_callback(self._pokes.discard)

    async def _outgoing(
        self, outbox: asyncio.Queue[contributor_pb2.AgentMessage]
    ) -> AsyncIterator[contributor_pb2.AgentMessage]:
        while True:
            yield await outbox.get()

    def _send(self, message: contributor_pb2.AgentMessage) -> None:
        if self._outbox is not None:
            self._outbox.put_nowait(message)

    async def _drain_outbox(self, timeout: float = 5.0) -> None:
        """Before the stream closes, give held reports a moment to be recorded."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        next_beat = loop.time()
        while self._held and loop.time() < deadline:
            if loop.time() >= next_beat:  # a heartbeat asks whether they were recorded
                self._send(self._heartbeat())
                next_beat = loop.time() + 0.5
            await asyncio.sleep(0.05)

    def _heartbeat(self) -> contributor_pb2.AgentMessage:
        return contributor_pb2.AgentMessage(
            heartbeat=contributor_pb2.Heartbeat(
                running_attempt_ids=self.running_attempts,
                free_memory_bytes=self._free_memory(),
                reported_attempt_ids=self.held_reports,
                draining=self._draining.is_set(),
                last_assignment_id=self._last_assignment_id,
            )
        )

    def _free_memory(self) -> int:
        """What a new task could reserve here now (slots.free_for_new_tasks)."""
        reserved, used = {}, {}
        for attempt_id, execution in self._running.items():
            if attempt_id in self._held:
                continue  # finished: its report waits, its memory is free
            reserved[attempt_id] = execution.assignment.policy.memory_bytes
            sample = execution.live.latest()
            if sample is not None:
                used[attempt_id] = sample.memory_bytes
        available = int(psutil.virtual_memory().available)
        return free_for_new_tasks(self._memory, reserved, used, available)

    async def _heartbeats(self, interval: float) -> None:
        while True:
            self._send(self._heartbeat())
            await asyncio.sleep(interval)

    async def _samples(self) -> None:
        """Node samples every node_sample_seconds; running tasks' every task_sample_seconds.

        Both ride the work stream like heartbeats; task samples of every running attempt
        go in one message, so their cost does not grow with the number of tasks.
        """
        loop = asyncio.get_running_loop()
        sampler = TaskSampler()
        next_node = loop.time()
        while True:
            if loop.time() >= next_node:
                next_node = loop.time() + self._settings.node_sample_seconds
                try:
                    self._send(wire.node_sample_message(read_node(self._settings.work_dir)))
                except Exception:  # monitoring must never stop the agent's work
                    log.exception("node sample failed")
            running = {a: e.live for a, e in self._running.items() if a not in self._held}
            readings = sampler.read(running)
            if readings:
                self._send(wire.task_samples_message(readings))
            await asyncio.sleep(min(self._settings.task_sample_seconds, next_node - loop.time()))

    def _start(self, assignment: contributor_pb2.Assignment) -> None:
        self._last_assignment_id = max(self._last_assignment_id, assignment.attempt_id)
        if assignment.attempt_id in self._running:
            return
        execution = Execution(assignment.attempt_id, assignment, threading.Event())
        self._running[assignment.attempt_id] = execution
        self._slots.enqueue(assignment.attempt_id)  # attempt ids grow with each claim
        execution.task = asyncio.create_task(self._execute(execution))

    async def _current_stub(self, timeout: float) -> contributor_pb2_grpc.ContributorServiceStub:
        """The stub of the live session, waiting up to `timeout` for a reconnect."""
        await asyncio.wait_for(self.connected.wait(), timeout)
        assert self._stub is not None
        return self._stub

    async def _with_reconnects(
        self, what: str, call: Callable[[contributor_pb2_grpc.ContributorServiceStub], Awaitable[T]]
    ) -> T:
        """Run `call` on the live session; a lost connection is waited out, not blamed."""
        deadline = asyncio.get_running_loop().time() + FETCH_PATIENCE_SECONDS
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            try:
                return await call(await self._current_stub(max(remaining, 0.01)))
            except grpc.aio.AioRpcError as exc:
                if exc.code() != grpc.StatusCode.UNAVAILABLE or remaining <= 0:
                    raise
                log.info("%s interrupted (%s); waiting for the coordinator", what, exc.code().name)
                await asyncio.sleep(0.2)

    async def _execute(self, execution: Execution) -> None:
        a = execution.assignment
        task_dir = self._tasks_dir / str(a.attempt_id)
        ids = execution.ids
        label = str(ids)
        estimate: Estimate | None = None
        try:
            input_path = task_dir / "input"
            try:
                script = await self._with_reconnects(
                    "script fetch", lambda stub: self._fetch_script(stub, a.script_sha256)
                )
                if a.has_input_inline:
                    await save_verified(_single(a.input_inline), a.input_sha256, input_path)
                else:
                    await self._with_reconnects(
                        "input fetch",
                        lambda stub: save_verified(
                            self._fetch(stub, a.input_sha256), a.input_sha256, input_path
                        ),
                    )
            except TimeoutError:
                outcome = _infrastructure(
                    "could not fetch the task's files: coordinator unreachable"
                )
            except grpc.aio.AioRpcError as exc:
                outcome = _infrastructure(f"could not fetch the task's files: {exc.details()}")
            except BlobMismatch as exc:
                outcome = _infrastructure(str(exc))
            except OSError as exc:
                outcome = _infrastructure(f"could not store the task's files: {exc}")
            else:
                request = RunRequest(
                    script=script,
                    input=input_path,
                    policy=wire.policy_from_message(a.policy),
                    entrypoint=Entrypoint(a.entrypoint or Entrypoint.PROCESS.value),
                    label=label,
                    live=execution.live,
                )
                warm_key = (a.job_id, a.script_sha256)
                async with self._slots.hold(
                    request.policy.memory_bytes,
                    warm_key,
                    execution.cancel.is_set,
                    ticket=a.attempt_id,
                ) as held:
                    execution.started = held
                    if a.probe_memory and not execution.cancel.is_set():
                        estimate = await self._probe(request, ids)
                    if execution.cancel.is_set():
                        outcome = Outcome(kind=OutcomeKind.CANCELLED)
                    elif estimate is not None and estimate.peak_bytes > request.policy.memory_bytes:
                        outcome = predicted_out_of_memory(estimate, request.policy.memory_bytes)
                    else:
                        log.info("running %s", label, extra=ids.extra)
                        outcome = await self._run(a, request, execution.cancel)
                log.info("%s finished: %s", label, outcome.kind.value, extra=ids.extra)
            await self._report(a.attempt_id, outcome, estimate)
        except asyncio.CancelledError:
            execution.cancel.set()
            raise
        except Exception:
            log.exception("%s failed inside the agent", label, extra=ids.extra)
            await self._report(a.attempt_id, _infrastructure("agent error"))
        finally:
            await self._slots.forget(a.attempt_id)
            shutil.rmtree(task_dir, ignore_errors=True)
            self._running.pop(a.attempt_id, None)

    async def _run(
        self, a: contributor_pb2.Assignment, request: RunRequest, cancel: threading.Event
    ) -> Outcome:
        """Run in a warm session of the same job when one is idle, else open one."""
        if request.entrypoint is not Entrypoint.PROCESS:
            return await asyncio.to_thread(self._runner.run, request, cancel)
        key = (a.job_id, a.script_sha256)
        taken = self._warm.take(key, request.policy)
        if taken is not None:
            session, opened_with = taken
        else:
            opened_with = request.policy
            session = await asyncio.to_thread(
                self._runner.open_session,
                request.script,
                request.entrypoint,
                opened_with,
                request.label,
            )
        try:
            return await asyncio.to_thread(
                session.run, request.input, request.policy, cancel, request.label, request.live
            )
        finally:
            await asyncio.to_thread(self._warm.give_back, key, session, opened_with)

    async def _probe(self, request: RunRequest, ids: TaskIds) -> Estimate | None:
        """The probes' estimate of the task's peak, within the reservation it holds."""
        estimate = await asyncio.to_thread(
            self._prober.estimate, request.script, request.input, request.policy
        )
        if estimate is not None:
            log.info(
                "%s probes predict a peak of %d bytes (confidence %.2f)",
                ids,
                estimate.peak_bytes,
                estimate.confidence,
                extra=ids.extra,
            )
        return estimate

    async def _expire_warm(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            await asyncio.to_thread(self._warm.close_expired)

    async def _fetch_script(
        self, stub: contributor_pb2_grpc.ContributorServiceStub, sha256: str
    ) -> Path:
        path = self._scripts.path(sha256)
        if not self._scripts.has(sha256):
            await save_verified(self._fetch(stub, sha256), sha256, path)
        return path

    async def _fetch(
        self, stub: contributor_pb2_grpc.ContributorServiceStub, sha256: str
    ) -> AsyncIterator[bytes]:
        call = stub.FetchBlob(
            contributor_pb2.FetchBlobRequest(sha256=sha256),
            metadata=wire.bearer(self._session_token),
        )
        async for chunk in call:
            yield chunk.data

    async def _report(
        self, attempt_id: int, outcome: Outcome, estimate: Estimate | None = None
    ) -> None:
        result_sha = ""
        result = outcome.result_json or b""
        if outcome.ok and len(result) > self._settings.inline_result_limit:
            payload = result
            try:
                uploaded = await self._with_reconnects(
                    "result upload",
                    lambda stub: stub.UploadResult(
                        wire.chunks(payload, RESULT_CHUNK),
                        metadata=wire.bearer(self._session_token),
                    ),
                )
                result_sha, result = uploaded.sha256, b""
            except (grpc.aio.AioRpcError, TimeoutError) as exc:
                details = exc.details() if isinstance(exc, grpc.aio.AioRpcError) else "timed out"
                outcome = _infrastructure(f"result upload failed: {details}")
                result = b""
        finished = wire.finished_message(attempt_id, outcome, result, result_sha)
        if estimate is not None:
            finished.estimate.CopyFrom(estimate_message(estimate))
        report = contributor_pb2.AgentMessage(finished=finished)
        self._held[attempt_id] = report
        self._send(report)

    async def _shutdown_running(self) -> None:
        for execution in list(self._running.values()):
            execution.cancel.set()
        tasks = [e.task for e in self._running.values() if e.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=10)


async def _single(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _infrastructure(message: str) -> Outcome:
    return Outcome(
        kind=OutcomeKind.INFRASTRUCTURE,
        error=ScriptError(type="Infrastructure", message=message),
    )
