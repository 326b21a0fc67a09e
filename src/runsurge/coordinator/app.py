"""The coordinator's parts wired together, the sequences that follow a change, and its loops.

Each sequence here runs domain transactions (through `Database.run`) and then acts on
what they changed: wake watchers, free an agent's slot, tell agents to stop attempts,
dispatch. Servicers call these and only convert messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runsurge.billing import factor
from runsurge.billing.benchmark import BenchmarkResult
from runsurge.config import CoordinatorSettings
from runsurge.coordinator import (
    contributors,
    estimates,
    jobs,
    liveness,
    quarantine,
    submission_reaper,
)
from runsurge.coordinator.aggregation import Aggregator
from runsurge.coordinator.attempts import RetryLimits, Settlement, finish_attempt, running_on
from runsurge.coordinator.auth import (
    Principal,
    ensure_contributor_token,
    ensure_default_consumer,
    identify,
)
from runsurge.coordinator.dispatch import AgentSession, CancelOrder, Dispatcher
from runsurge.coordinator.events import JobEvents
from runsurge.coordinator.job_options import OptionMaxima
from runsurge.coordinator.margins import calibrated_margins
from runsurge.coordinator.metrics import EventMetrics
from runsurge.coordinator.results import store_result
from runsurge.coordinator.samples import (
    FLUSH_SECONDS,
    SampleBuffer,
    SampleRetention,
    prune_samples,
    store_samples,
)
from runsurge.coordinator.submission import (
    ScriptGate,
    Submission,
    SubmissionItem,
    SubmissionLimits,
)
from runsurge.coordinator.views import FinishedAttempt
from runsurge.errors import RunSurgeError
from runsurge.store.blobs import DirectoryBlobStore
from runsurge.store.database import Database, sqlite_url
from runsurge.store.models import utcnow

log = logging.getLogger(__name__)
# RUNNING attempts a heartbeat does not list are lost once older than this many
# heartbeat intervals (younger ones may still be on their way to the agent).
GRACE_HEARTBEATS = 3
# How long close() lets one-off work finish before the database closes under it.
CLOSE_WAIT_SECONDS = 5.0


@dataclass
class Coordinator:
    """Everything the servicers need, built once from settings."""

    settings: CoordinatorSettings
    db: Database
    blobs: DirectoryBlobStore
    events: JobEvents
    dispatcher: Dispatcher
    aggregator: Aggregator
    gate: ScriptGate | None
    contributor_token: str
    consumer_token: str
    # When each agent's current work stream opened (the forgotten-attempts grace).
    streams_opened_at: dict[str, dt.datetime] = field(default_factory=dict)
    metrics: EventMetrics = field(default_factory=EventMetrics)
    # Samples from the work streams, waiting for the sample loop to store them.
    samples: SampleBuffer = field(default_factory=SampleBuffer)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    # One-off work started by an event (re-estimating a group, closing a work stream),
    # held so it is not lost.
    _side_tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _closing: bool = False  # close() began: no new one-off work

    def __post_init__(self) -> None:
        self.dispatcher.on_settled = self.settled
        self.dispatcher.on_claimed = lambda a: self.metrics.task_assigned(a.queued_seconds, a.rerun)

    @property
    def retry_limits(self) -> RetryLimits:
        """Retry bounds; the largest reservation is the largest online machine's offer."""
        largest = max(
            (s.memory_bytes for s in self.dispatcher.sessions.values()),
            default=self.settings.task_memory_bytes,
        )
        return RetryLimits(self.settings.max_attempts, largest, self.settings.memory_growth_factor)

    @property
    def lease_terms(self) -> liveness.LeaseTerms:
        """How heartbeats renew leases and when an unmentioned attempt counts as forgotten."""
        return liveness.LeaseTerms(
            lease_seconds=self.settings.lease_seconds,
            forget_after_seconds=self.settings.heartbeat_interval_seconds * GRACE_HEARTBEATS,
            wall_slack_seconds=self.settings.wall_slack_seconds,
        )

    @property
    def quarantine_rules(self) -> quarantine.QuarantineRules:
        """When failures or flaps quarantine a contributor, and for how long."""
        s = self.settings
        return quarantine.QuarantineRules(
            failures=s.quarantine_failures,
            failure_window_seconds=s.quarantine_failure_window_seconds,
            flaps=s.quarantine_flaps,
            flap_window_seconds=s.quarantine_flap_window_seconds,
            duration_seconds=s.quarantine_seconds,
        )

    @property
    def suspect_after_seconds(self) -> float:
        """Silence that makes an ONLINE contributor SUSPECT: two heartbeats, at least 1 s.

        The floor keeps a loaded machine's late heartbeat from counting as a flap; the
        cap keeps SUSPECT ahead of the lease lapsing.
        """
        s = self.settings
        quiet = max(liveness.SUSPECT_HEARTBEATS * s.heartbeat_interval_seconds, 1.0)
        return min(quiet, s.lease_seconds / 2)

    @property
    def factor_rules(self) -> factor.FactorRules:
        """How far a contributor's benchmark claim is believed (billing/factor.py)."""
        s = self.settings
        return factor.FactorRules(
            unverified_cap=s.factor_unverified_cap,
            tolerance=s.factor_tolerance,
            min_evidence=s.factor_min_evidence,
            similar_size=s.factor_similar_size,
        )

    @property
    def submission_limits(self) -> SubmissionLimits:
        """Size limits for incoming jobs."""
        return SubmissionLimits(
            max_script_bytes=self.settings.max_script_bytes,
            max_input_bytes=self.settings.max_input_bytes,
            max_group_inputs=self.settings.max_group_inputs,
            max_active_jobs=self.settings.max_active_jobs,
            memory_reservation_bytes=self.settings.task_memory_bytes,
            activity_seconds=min(60.0, self.settings.submission_timeout_seconds / 4),
            billing=self.settings.billing,
            maxima=OptionMaxima(
                wall_seconds=self.settings.task_wall_seconds,
                cpu_seconds=self.settings.task_cpu_seconds,
                max_attempts=self.settings.max_attempts,
            ),
        )

    def settled(self, settlement: Settlement) -> None:
        """Act on what a transaction changed: wake watchers, stop attempts, dispatch."""
        self.metrics.tasks_requeued(settlement.requeued)
        for attempt_id, contributor_id in settlement.cancel:
            self.dispatcher.cancel(contributor_id, attempt_id, "the job was stopped")
        if settlement.job_id is not None:
            self.events.notify([settlement.job_id])
        if settlement.aggregating:
            self.aggregator.wake()
        self.dispatcher.wake()

    async def submit_job(self, consumer_id: str, items: AsyncIterable[SubmissionItem]) -> str:
        """Receive a consumer's job (see submission.py) and dispatch it; return its id."""
        submission = Submission(self.db, self.blobs, self.gate, consumer_id, self.submission_limits)
        job_id = await submission.receive(items)
        self.dispatcher.wake()
        return job_id

    async def identify(self, token: str, wanted: str) -> Principal:
        """Who holds `token` (any kind), read afresh so that revocation acts at once."""
        return await self.db.run(identify, token, self.contributor_token, wanted)

    async def register(self, registration: contributors.Registration) -> contributors.Registered:
        """Register an agent; a restarted agent's old RUNNING attempts are lost at once.

        A new agent process runs nothing of what its predecessor had, so waiting for
        their leases (or for its heartbeats not to list them) would only delay them.
        """
        registered = await self.db.run(contributors.register, registration)
        if registration.benchmark is not None:
            await self.benchmark_reported(registered.contributor_id, registration.benchmark)
        else:
            await self.db.run(factor.verify, registered.contributor_id, self.factor_rules)
        if registration.restarted and registered.resumed:
            stale = await self.db.run(running_on, registered.contributor_id)
            for attempt_id in stale:
                await self._lose(attempt_id, "its agent restarted", "restarted")
        return registered

    async def benchmark_reported(self, contributor_id: str, result: BenchmarkResult) -> None:
        """Store an agent's benchmark as its claim (and history), verified at once."""
        await self.db.run(factor.record_claim, contributor_id, result, self.factor_rules)

    async def verify_factors(self) -> None:
        """Re-check the factor claims of connected contributors against their tasks."""
        for contributor_id in list(self.dispatcher.sessions):
            await self.db.run(factor.verify, contributor_id, self.factor_rules)

    async def _lose(self, attempt_id: int, why: str, metric: str) -> None:
        """Lose one attempt, stop it on any agent, and act on what that changed."""
        settlement = await self.db.run(liveness.lose_attempt, attempt_id, self.retry_limits, why)
        if settlement.job_id is not None:
            self.metrics.attempt_lost(metric)
        self.dispatcher.forget(attempt_id, why)
        await self._count_failure(settlement)
        self.settled(settlement)

    async def _count_failure(self, settlement: Settlement) -> None:
        """An infrastructure failure was recorded: quarantine its contributor if over the rule."""
        if not settlement.failed_on:
            return
        await self.db.run(quarantine.count_failures, settlement.failed_on, self.quarantine_rules)

    async def open_work_stream(self, contributor_id: str) -> AgentSession:
        """An agent opened its work stream: it is online and gets work."""
        capacity = await self.db.run(contributors.go_online, contributor_id)
        session = AgentSession(contributor_id, capacity.cores, capacity.memory_bytes)
        self.streams_opened_at[contributor_id] = utcnow()
        self.metrics.stream_opened(contributor_id)
        # A reconnecting agent (after a broken stream or a coordinator restart) may still
        # run what it had: count those slots until its heartbeats say otherwise.
        for attempt_id, reservation in (await self.db.run(running_on, contributor_id)).items():
            session.hold(attempt_id, reservation)
        self.dispatcher.attach(session)
        return session

    async def close_work_stream(self, session: AgentSession) -> None:
        """An agent's work stream ended; it is offline unless a newer stream replaced it."""
        self.dispatcher.detach(session)
        if session.contributor_id not in self.dispatcher.sessions:
            await self.db.run(
                contributors.go_offline, session.contributor_id, self.quarantine_rules
            )

    async def heartbeat(
        self,
        session: AgentSession,
        running: Sequence[int],
        reported: Sequence[int] = (),
        draining: bool = False,
        free_memory_bytes: int | None = None,
        last_assignment_id: int | None = None,
    ) -> None:
        """Extend the leases of what the agent runs, lose what it forgot, stop the rest.

        Every attempt the agent mentions (running, or holding its report) that is not
        RUNNING for it gets a stop order on this stream: cancels reach the agent after
        reconnects, and a held report is known to be recorded. A draining agent is
        DRAINING from this beat on and gets no new work.
        """
        contributor_id = session.contributor_id
        self.metrics.heartbeat(contributor_id)
        if free_memory_bytes is not None:
            session.report_free(free_memory_bytes, list(running))
        beat = liveness.AgentBeat(
            contributor_id,
            running,
            reported,
            self.streams_opened_at.get(contributor_id),
            draining,
            last_assignment_id,
        )
        reply = await self.db.run(liveness.heartbeat, beat, self.lease_terms)
        self.dispatcher.reconcile(
            contributor_id, list(running), self.lease_terms.forget_after_seconds
        )
        for attempt_id in reply.stop:
            session.outbox.put_nowait(
                CancelOrder(attempt_id, "the coordinator no longer runs this attempt")
            )
        for attempt_id in reply.forgotten:
            settlement = await self.db.run(
                liveness.lose_attempt,
                attempt_id,
                self.retry_limits,
                "the contributor is not running it",
            )
            if settlement.job_id is not None:
                self.metrics.attempt_lost("forgotten")
            self.dispatcher.released(contributor_id, attempt_id)
            await self._count_failure(settlement)
            self.settled(settlement)

    async def attempt_finished(self, contributor_id: str, report: FinishedAttempt) -> None:
        """Record an agent's report; a refused one is logged, and its slot freed all the same.

        Its result is checked and stored first, on a worker thread and outside any
        transaction (results.py), so the job's lock is never held over a parse or a blob.
        """
        try:
            result = await asyncio.to_thread(store_result, report, self.blobs)
            settlement = await self.db.run(
                finish_attempt,
                contributor_id,
                report,
                result,
                self.retry_limits,
                self.settings.billing,
            )
        except RunSurgeError as exc:
            self.report_refused(contributor_id, report.attempt_id, exc)
            return
        self.metrics.report_recorded(
            report.outcome.value, report.wall_seconds, settled=settlement.job_id is not None
        )
        self.dispatcher.released(contributor_id, report.attempt_id)
        await self._count_failure(settlement)
        self.settled(settlement)
        if settlement.recalibrate and settlement.job_id is not None:
            self.spawn(self._recalibrate(settlement.job_id))

    async def _recalibrate(self, job_id: str) -> None:
        """Re-estimate a group's unrun tasks from its first successes (estimates.py)."""
        try:
            job = await self.db.run(estimates.group_due, job_id)
            if job is None:
                return
            finished = await self.db.run(
                estimates.finished_of_script, job.consumer_id, job.script_sha256
            )
            queued = await self.db.run(estimates.queued_unrun, job_id)
            margins = await self.db.run(calibrated_margins)
            planned = await asyncio.to_thread(
                estimates.plan, job, finished, queued, self.blobs, margins
            )
            changed = await self.db.run(estimates.apply, job_id, planned) if planned else 0
        except Exception:  # an estimate is an optimisation: the defaults still hold
            log.exception("re-estimating the tasks of job %s failed", job_id)
            return
        if changed:
            log.info(
                "job %s: %d queued tasks re-estimated from %d finished (after %d successes)",
                job_id,
                changed,
                len(finished),
                job.succeeded,
            )
            self.dispatcher.wake()

    def report_refused(self, contributor_id: str, attempt_id: int, why: RunSurgeError) -> None:
        """A report that cannot be recorded: the agent's slot is free all the same.

        The attempt stays RUNNING until the agent's heartbeats stop listing it, and is
        then lost and retried like any other.
        """
        # The attempt may not be real (not the agent's); the job and task are not looked up.
        log.warning("rejected report from %s for attempt=%s: %s", contributor_id, attempt_id, why)
        self.metrics.report_refused()
        self.dispatcher.released(contributor_id, attempt_id)
        self.settled(Settlement())

    async def cancel_job(self, consumer_id: str, job_id: str) -> None:
        """Cancel a consumer's job and tell the agents running its attempts to stop."""
        running = await self.db.run(jobs.cancel_job, consumer_id, job_id)
        self.settled(Settlement(job_id, running))

    async def sweep_lapsed_leases(self) -> None:
        """Lose every attempt whose lease ran out and requeue (or fail) its task.

        Agents holding them that went quiet (stopped, wedged) lose their stream first, so
        their tasks are not handed straight back to them; when they wake they
        reconnect, and their first heartbeat stops the attempts they lost.
        """
        lapsed = await self.db.run(liveness.lapsed_attempts)
        # Read after the lapsed leases, so an agent whose lease just lapsed is seen silent.
        silent = await self.db.run(
            liveness.silent_contributors, lapsed, self.lease_terms.forget_after_seconds
        )
        for contributor_id in silent:
            session = self.dispatcher.sessions.get(contributor_id)
            if session is not None:
                log.warning("contributor %s is silent; closing its work stream", contributor_id)
                self.dispatcher.detach(session)
                session.outbox.put_nowait(None)
        for attempt_id in lapsed:
            await self._lose(attempt_id, "the contributor stopped sending heartbeats", "lease")

    async def watch_contributors(self) -> None:
        """Mark silent contributors SUSPECT and release quarantines whose time is up."""
        suspects = await self.db.run(
            liveness.mark_suspects, self.suspect_after_seconds, self.quarantine_rules
        )
        for contributor_id in suspects:
            log.warning("contributor %s is suspect: no heartbeat", contributor_id)
        released = await self.db.run(quarantine.release_expired, set(self.dispatcher.sessions))
        if released:
            self.dispatcher.wake()

    def start_background(self) -> None:
        """Start the dispatcher, the lease and contributor sweeps, the submission reaper,
        the aggregator, the sample writer and pruner, and the factor verifier."""
        self._tasks.append(asyncio.create_task(self.dispatcher.run(), name="dispatcher"))
        self._tasks.append(asyncio.create_task(self._sweep_leases(), name="lease-sweeper"))
        self._tasks.append(
            asyncio.create_task(self._watch_contributors(), name="contributor-watch")
        )
        self._tasks.append(asyncio.create_task(self._reap_submissions(), name="submission-reaper"))
        self._tasks.append(
            asyncio.create_task(self.aggregator.run(self._aggregated), name="aggregator")
        )
        self._tasks.append(asyncio.create_task(self._store_samples(), name="sample-writer"))
        self._tasks.append(asyncio.create_task(self._prune_samples(), name="sample-pruner"))
        self._tasks.append(asyncio.create_task(self._verify_factors(), name="factor-verifier"))

    def _aggregated(self, job_ids: list[str]) -> None:
        self.events.notify(job_ids)
        self.dispatcher.wake()

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` beside the RPC that caused it, which cannot cancel it.

        stop_background cancels it; once close() began, it is dropped.
        """
        if self._closing:
            work.close()
            return
        task = asyncio.create_task(work)
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    async def stop_background(self) -> None:
        """Stop the loops started by start_background, and any one-off work."""
        for task in [*self._side_tasks]:
            task.cancel()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def close(self) -> None:
        """After the server stopped: let what the last RPCs started (a work stream's
        closing) finish, then close the database.

        Work started later, by RPCs cut off as the process exits, is dropped rather than
        failing on a closed database: the next start marks every contributor offline.
        """
        self._closing = True
        if self._side_tasks:
            await asyncio.wait([*self._side_tasks], timeout=CLOSE_WAIT_SECONDS)
        self.db.close()

    async def _sweep_leases(self) -> None:
        interval = max(0.2, self.settings.lease_seconds / 4)
        while True:
            await asyncio.sleep(interval)
            try:
                await self.sweep_lapsed_leases()
            except Exception:
                log.exception("lease sweep failed")

    async def _watch_contributors(self) -> None:
        interval = max(0.2, self.settings.heartbeat_interval_seconds)
        while True:
            await asyncio.sleep(interval)
            try:
                await self.watch_contributors()
            except Exception:
                log.exception("contributor watch failed")

    async def _reap_submissions(self) -> None:
        timeout = self.settings.submission_timeout_seconds
        while True:
            await asyncio.sleep(max(0.2, min(60.0, timeout / 4)))
            try:
                reaped = await self.db.run(submission_reaper.reap_abandoned, timeout)
            except Exception:
                log.exception("submission reaping failed")
                continue
            for job_id in reaped:
                log.warning("job %s failed: its upload never finished", job_id)
            if reaped:
                self.events.notify(reaped)

    @property
    def sample_retention(self) -> SampleRetention:
        """How many rows, and how old, the sample tables keep."""
        return SampleRetention(
            self.settings.sample_retention_rows, self.settings.sample_retention_seconds
        )

    async def _store_samples(self) -> None:
        """Store what the work streams buffered, in one transaction per round."""
        dropped = 0
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            if self.samples.dropped > dropped:
                log.warning(
                    "%d samples dropped: the database does not keep up",
                    self.samples.dropped - dropped,
                )
                dropped = self.samples.dropped
            batch = self.samples.take()
            if not batch:
                continue
            try:
                await self.db.run(store_samples, batch)
            except Exception:
                log.exception("storing %d samples failed", len(batch.nodes) + len(batch.tasks))

    async def _prune_samples(self) -> None:
        while True:
            try:
                deleted = await self.db.run(prune_samples, self.sample_retention)
            except Exception:
                log.exception("sample pruning failed")
            else:
                if deleted:
                    log.debug("pruned %d samples", deleted)
            await asyncio.sleep(self.settings.sample_prune_seconds)

    async def _verify_factors(self) -> None:
        while True:
            await asyncio.sleep(self.settings.factor_verify_seconds)
            try:
                await self.verify_factors()
            except Exception:
                log.exception("machine factor verification failed")


def build_coordinator(settings: CoordinatorSettings, gate: ScriptGate | None) -> Coordinator:
    """Open the database (migrating it), the blob store and the secrets."""
    data_dir = Path(settings.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.db_url or sqlite_url(data_dir))
    db.migrate()
    consumer_token = db.call(ensure_default_consumer, data_dir)
    db.call(contributors.mark_all_offline)
    # The agents of attempts running before this start reconnect with backoff; until
    # then nothing renews their leases, and sweeping them would rerun their work.
    grace = max(settings.startup_grace_seconds, settings.lease_seconds)
    renewed = db.call(liveness.renew_after_restart, grace)
    if renewed:
        log.info("%d running attempts keep their lease %.0fs for their agents", renewed, grace)
    events = JobEvents()
    blobs = DirectoryBlobStore(data_dir / "blobs")
    # The limits every attempt starts from; policy.policy_for decides each at claim time.
    policy_defaults = settings.default_policy()
    return Coordinator(
        settings=settings,
        db=db,
        blobs=blobs,
        events=events,
        dispatcher=Dispatcher(
            db,
            events,
            settings.lease_seconds,
            blobs,
            policy_defaults,
            settings.unplaceable_timeout_seconds,
        ),
        aggregator=Aggregator(db, blobs, policy_defaults.memory_bytes),
        gate=gate,
        contributor_token=ensure_contributor_token(data_dir),
        consumer_token=consumer_token,
    )
