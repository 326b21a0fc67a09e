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
from runsurge.coordinator.attempts import RetryLimits
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

    def start_background(self) -> None:
        """Start the dispatcher and the lease sweeper."""
        self._tasks.append(asyncio.create_task(self.dispatcher.run(), name="dispatcher"))
        self._tasks.append(asyncio.create_task(self._sweep_leases(), name="lease-sweeper"))

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
                touched = await self.db.run(liveness.expire_leases, self.retry_limits)
            except Exception:
                log.exception("lease sweep failed")
                continue
            if touched:
                self.events.notify(touched)
                self.dispatcher.wake()


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
    return Coordinator(
        settings=settings,
        db=db,
        blobs=DirectoryBlobStore(data_dir / "blobs"),
        events=events,
        dispatcher=Dispatcher(db, events, settings.lease_seconds),
        gate=gate,
        contributor_token=ensure_contributor_token(data_dir),
        consumer_token=consumer_token,
    )
