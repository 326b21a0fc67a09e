"""The coordinator's parts wired together, and its background loops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import update

from runsurge.config import CoordinatorSettings
from runsurge.coordinator import liveness
from runsurge.coordinator.aggregation import Aggregator
from runsurge.coordinator.attempts import RetryLimits, Settlement
from runsurge.coordinator.auth import ensure_contributor_token, ensure_default_consumer
from runsurge.coordinator.dispatch import Dispatcher
from runsurge.coordinator.events import JobEvents
from runsurge.coordinator.submission import ScriptGate, SubmissionLimits
from runsurge.store.blobs import DirectoryBlobStore
from runsurge.store.database import Database, sqlite_url
from runsurge.store.models import Contributor
from runsurge.store.states import ContributorState

log = logging.getLogger(__name__)


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
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def retry_limits(self) -> RetryLimits:
        """Retry bounds; the largest reservation is the largest online machine's offer."""
        largest = max(
            (s.memory_bytes for s in self.dispatcher.sessions.values()),
            default=self.settings.task_memory_bytes,
        )
        return RetryLimits(self.settings.max_attempts, largest)

    @property
    def submission_limits(self) -> SubmissionLimits:
        """Size limits for incoming jobs."""
        return SubmissionLimits(
            max_script_bytes=self.settings.max_script_bytes,
            max_input_bytes=self.settings.max_input_bytes,
            memory_reservation_bytes=self.settings.task_memory_bytes,
        )

    def settled(self, settlement: Settlement) -> None:
        """Act on what a transaction changed: wake watchers, stop attempts, dispatch."""
        for attempt_id, contributor_id in settlement.cancel:
            self.dispatcher.cancel(contributor_id, attempt_id, "the job was stopped")
        if settlement.job_id is not None:
            self.events.notify([settlement.job_id])
        if settlement.aggregating:
            self.aggregator.wake()
        self.dispatcher.wake()

    def start_background(self) -> None:
        """Start the dispatcher, the lease sweeper and the aggregator."""
        self._tasks.append(asyncio.create_task(self.dispatcher.run(), name="dispatcher"))
        self._tasks.append(asyncio.create_task(self._sweep_leases(), name="lease-sweeper"))
        self._tasks.append(
            asyncio.create_task(self.aggregator.run(self._aggregated), name="aggregator")
        )

    def _aggregated(self, job_ids: list[str]) -> None:
        self.events.notify(job_ids)
        self.dispatcher.wake()

    async def stop_background(self) -> None:
        """Stop the loops started by start_background."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def _sweep_leases(self) -> None:
        interval = max(0.2, self.settings.lease_seconds / 4)
        while True:
            await asyncio.sleep(interval)
            try:
                for attempt_id in await self.db.run(liveness.lapsed_attempts):
                    settlement = await self.db.run(
                        liveness.lose_attempt,
                        attempt_id,
                        self.retry_limits,
                        "the contributor stopped sending heartbeats",
                    )
                    self.settled(settlement)
            except Exception:
                log.exception("lease sweep failed")


def build_coordinator(settings: CoordinatorSettings, gate: ScriptGate | None) -> Coordinator:
    """Open the database (migrating it), the blob store and the secrets."""
    data_dir = Path(settings.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.db_url or sqlite_url(data_dir))
    db.migrate()
    consumer_token = db.call(ensure_default_consumer, data_dir)
    # After a restart no agent is connected yet; they reconnect by themselves.
    db.call(lambda s: s.execute(update(Contributor).values(state=ContributorState.OFFLINE)))
    events = JobEvents()
    blobs = DirectoryBlobStore(data_dir / "blobs")
    return Coordinator(
        settings=settings,
        db=db,
        blobs=blobs,
        events=events,
        dispatcher=Dispatcher(db, events, settings.lease_seconds, blobs),
        aggregator=Aggregator(db, blobs, settings.task_memory_bytes),
        gate=gate,
        contributor_token=ensure_contributor_token(data_dir),
        consumer_token=consumer_token,
    )
