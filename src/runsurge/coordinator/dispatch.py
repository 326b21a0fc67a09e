"""Connected agents and the loop that hands them work.

Each open work stream is an `AgentSession` with an outbox the servicer drains. The
dispatcher wakes on new work, finished work and new agents (and once a second in any
case), and fills every agent's free slots. An agent holds up to two assignments per
core (one running, one prefetched); it starts each only when a core and the task's
memory reservation are free on it (see contributor/slots.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from runsurge.coordinator.attempts import (
    Settlement,
    claim_task,
    fail_unreadable_input,
    with_input,
)
from runsurge.coordinator.events import JobEvents
from runsurge.coordinator.views import AssignmentView
from runsurge.errors import NotFound
from runsurge.sandbox.policy import SandboxPolicy
from runsurge.store.blobs import BlobStore
from runsurge.store.database import Database

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CancelOrder:
    """Tell an agent to stop an attempt."""

    attempt_id: int
    reason: str


Outgoing = AssignmentView | CancelOrder | None  # None closes the stream
# Assignments per core an agent may hold: one running, one fetched and waiting.
PREFETCH_FACTOR = 2


@dataclass
class AgentSession:
    """One connected agent: its capacity, what it runs, and its outbox."""

    contributor_id: str
    cores: int
    memory_bytes: int
    outbox: asyncio.Queue[Outgoing] = field(default_factory=asyncio.Queue)
    running: dict[int, int] = field(default_factory=dict)  # attempt id → reserved bytes

    @property
    def free_slots(self) -> int:
        """Assignments the agent can take now: its cores, plus as many prefetched."""
        return self.cores * PREFETCH_FACTOR - len(self.running)

    @property
    def largest_fit(self) -> int:
        """The largest reservation worth assigning now.

        Assigned attempts may reserve up to PREFETCH_FACTOR times the offer, since the
        agent starts one only when it fits beside those running (contributor/slots.py);
        no single task may exceed the whole offer.
        """
        assigned = sum(self.running.values())
        return min(self.memory_bytes, self.memory_bytes * PREFETCH_FACTOR - assigned)


class Dispatcher:
    """Matches queued tasks to agents with room for them."""

    def __init__(
        self,
        db: Database,
        events: JobEvents,
        lease_seconds: float,
        blobs: BlobStore,
        policy_defaults: SandboxPolicy,
    ) -> None:
        self._db = db
        self._blobs = blobs
        self._events = events
        self._lease_seconds = lease_seconds
        self._policy_defaults = policy_defaults  # what claims start from (policy.py)
        self.sessions: dict[str, AgentSession] = {}
        self._wake = asyncio.Event()
        # What to do after a transaction of the dispatcher's own settled a job (the
        # Coordinator's `settled`: wake watchers, stop attempts, wake the aggregator).
        self.on_settled: Callable[[Settlement], None] = lambda _: None

    def wake(self) -> None:
        """Ask for a dispatch round soon."""
        self._wake.set()

    def attach(self, session: AgentSession) -> None:
        """An agent opened its work stream; a previous stream of it is closed."""
        old = self.sessions.get(session.contributor_id)
        if old is not None:
            old.outbox.put_nowait(None)
        self.sessions[session.contributor_id] = session
        self.wake()

    def detach(self, session: AgentSession) -> None:
        """An agent's work stream ended."""
        if self.sessions.get(session.contributor_id) is session:
            del self.sessions[session.contributor_id]

    def released(self, contributor_id: str, attempt_id: int) -> None:
        """An attempt ended on its agent: its slot and memory are free again."""
        session = self.sessions.get(contributor_id)
        if session is not None:
            session.running.pop(attempt_id, None)
        self.wake()

    def cancel(self, contributor_id: str, attempt_id: int, reason: str) -> None:
        """Forward a cancellation to the agent running the attempt, if connected."""
        session = self.sessions.get(contributor_id)
        if session is not None and attempt_id in session.running:
            session.outbox.put_nowait(CancelOrder(attempt_id, reason))

    async def run(self) -> None:
        """Dispatch forever (until cancelled)."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=1.0)
            self._wake.clear()
            try:
                await self.dispatch_round()
            except Exception:  # keep dispatching whatever one round hit
                log.exception("dispatch round failed")

    async def dispatch_round(self) -> None:
        """Fill every agent's free slots with queued tasks that fit."""
        progress = True
        while progress:
            progress = False
            for session in list(self.sessions.values()):
                if (
                    session.free_slots <= 0
                    or self.sessions.get(session.contributor_id) is not session
                ):
                    continue
                assignment = await self._db.run(
                    claim_task,
                    session.contributor_id,
                    session.largest_fit,
                    self._lease_seconds,
                    self._policy_defaults,
                )
                if assignment is None:
                    continue
                progress = True
                session.running[assignment.attempt_id] = assignment.memory_bytes
                ready = await self._with_input(assignment)
                if ready is None:
                    session.running.pop(assignment.attempt_id, None)
                    continue
                session.outbox.put_nowait(ready)
                self._events.notify([assignment.job_id])

    async def _with_input(self, assignment: AssignmentView) -> AssignmentView | None:
        """Read the claimed task's input, after the claim committed; None if it cannot run.

        A missing or corrupt input fails that task alone, in its own transaction, and
        dispatch goes on with the others.
        """
        try:
            return await asyncio.to_thread(with_input, assignment, self._blobs)
        except NotFound as exc:
            why = str(exc)
        settlement = await self._db.run(fail_unreadable_input, assignment.attempt_id, why)
        self.on_settled(settlement)
        return None
