"""Connected agents and the loop that hands them work.

Each open work stream is an `AgentSession` with an outbox the servicer drains. The
dispatcher wakes on new work, finished work and new agents (and once a second in any
case), and fills every agent's free slots, claiming each agent's share in one
transaction (`claim_tasks`). A round first gives every agent one assignment per free
core, within the memory it offered; then, while queued work is left, up to
`prefetch_per_core` more per core, which wait on the agent for a core so that the next
task starts the moment one ends, without a round trip. A prefetched assignment must
never wait behind a long task while another agent is idle: when a round leaves an
agent idle with nothing it can claim, the newest assignments beyond the cores of other
agents are withdrawn (`WithdrawOrder`); an agent gives back one it has not started,
which is queued again, and runs one it has (see docs/architecture.md, "Scheduling").

The slots counted here are the coordinator's view of the agent. Every way an
attempt ends frees its slot: a report, a loss found by a heartbeat or by the lease
sweep (`forget`), and, as a backstop, each heartbeat drops any assignment the agent
no longer lists once it is older than the grace for assignments still in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from runsurge.coordinator.attempts import (
    Settlement,
    claim_tasks,
    fail_unreadable_input,
    with_input,
)
from runsurge.coordinator.events import JobEvents
from runsurge.coordinator.placement import (
    check_placement,
    fail_unplaceable,
    largest_placeable_offer,
)
from runsurge.coordinator.views import AssignmentView
from runsurge.errors import NotFound
from runsurge.sandbox.policy import SandboxPolicy
from runsurge.store.blobs import BlobStore
from runsurge.store.database import Database
from runsurge.tasklog import TaskIds

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CancelOrder:
    """Tell an agent to stop an attempt."""

    attempt_id: int
    reason: str


@dataclass(frozen=True)
class WithdrawOrder:
    """Ask an agent to give back an assignment it has not started (a prefetch)."""

    attempt_id: int


Outgoing = AssignmentView | CancelOrder | WithdrawOrder | None  # None closes the stream
# How often the dispatcher looks for tasks no connected agent can hold (placement.py).
PLACEMENT_CHECK_SECONDS = 1.0


@dataclass
class AgentSession:
    """One connected agent: its capacity, what it runs, and its outbox."""

    contributor_id: str
    cores: int
    memory_bytes: int
    outbox: asyncio.Queue[Outgoing] = field(default_factory=asyncio.Queue)
    running: dict[int, int] = field(default_factory=dict)  # attempt id → reserved bytes
    assigned_at: dict[int, float] = field(default_factory=dict)  # attempt id → monotonic
    # From the latest heartbeat: what the agent says a new task could reserve (its
    # machine's real free memory, less what its running tasks may still grow into),
    # and the attempts it counted in that figure. None until the first heartbeat.
    reported_free_bytes: int | None = None
    reported_attempts: frozenset[int] = frozenset()
    withdrawing: set[int] = field(default_factory=set)  # withdrawals sent, not settled

    @property
    def free_slots(self) -> int:
        """Assignments the agent can start now: one per free core."""
        return self.cores - len(self.running)

    def room(self, prefetch_per_core: int) -> int:
        """Assignments it may be sent: its free cores, and `prefetch_per_core` per core."""
        return self.cores * (1 + prefetch_per_core) - len(self.running)

    @property
    def largest_fit(self) -> int:
        """The largest reservation the agent can start now, beside what it runs.

        Within its offer, and within the free memory its latest heartbeat reported, less
        the assignments sent since that the heartbeat did not count yet.
        """
        by_offer = self.memory_bytes - sum(self.running.values())
        if self.reported_free_bytes is None:
            return by_offer
        in_flight = sum(
            size for attempt, size in self.running.items() if attempt not in self.reported_attempts
        )
        return min(by_offer, self.reported_free_bytes - in_flight)

    def report_free(self, free_bytes: int, counted: list[int]) -> None:
        """A heartbeat's free-memory figure and the attempts it already counted."""
        self.reported_free_bytes = free_bytes
        self.reported_attempts = frozenset(counted)

    def hold(self, attempt_id: int, reservation: int) -> None:
        """Count an assignment against the agent's cores and memory."""
        self.running[attempt_id] = reservation
        self.assigned_at[attempt_id] = time.monotonic()

    def free(self, attempt_id: int) -> bool:
        """Give an attempt's slot back; whether it held one."""
        self.assigned_at.pop(attempt_id, None)
        self.withdrawing.discard(attempt_id)
        return self.running.pop(attempt_id, None) is not None


class Dispatcher:
    """Matches queued tasks to agents with room for them."""

    def __init__(
        self,
        db: Database,
        events: JobEvents,
        lease_seconds: float,
        blobs: BlobStore,
        policy_defaults: SandboxPolicy,
        unplaceable_timeout_seconds: float = 600.0,
        prefetch_per_core: int = 1,
    ) -> None:
        self._db = db
        self._prefetch_per_core = prefetch_per_core
        self._unplaceable_timeout = unplaceable_timeout_seconds
        self._placement_checked = 0.0
        self._blobs = blobs
        self._events = events
        self._lease_seconds = lease_seconds
        self._policy_defaults = policy_defaults  # what claims start from (policy.py)
        self.sessions: dict[str, AgentSession] = {}
        self._wake = asyncio.Event()
        # What to do after a transaction of the dispatcher's own settled a job (the
        # Coordinator's `settled`: wake watchers, stop attempts, wake the aggregator).
        self.on_settled: Callable[[Settlement], None] = lambda _: None
        # Told of every claim (the Coordinator's metrics: dispatch latency, reruns).
        self.on_claimed: Callable[[AssignmentView], None] = lambda _: None

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
            session.free(attempt_id)
        self.wake()

    def forget(self, attempt_id: int, reason: str) -> None:
        """An attempt was lost (its lease lapsed): stop it on any agent still holding it.

        The agent is told to stop it and its slot is freed at once, so a connected
        agent's slot never stays taken by an attempt the coordinator gave up on.
        """
        for session in self.sessions.values():
            if attempt_id in session.running:
                session.outbox.put_nowait(CancelOrder(attempt_id, reason))
                session.free(attempt_id)
                self.wake()

    def reconcile(self, contributor_id: str, listed: list[int], grace_seconds: float) -> None:
        """A heartbeat listed what the agent holds: free slots of what it no longer has.

        Assignments younger than `grace_seconds` may still be on their way to it.
        """
        session = self.sessions.get(contributor_id)
        if session is None:
            return
        held, cutoff = set(listed), time.monotonic() - grace_seconds
        gone = [
            attempt_id
            for attempt_id, at in session.assigned_at.items()
            if attempt_id not in held and at < cutoff
        ]
        for attempt_id in gone:
            session.free(attempt_id)
        if gone:
            log.info("freed %d slot(s) %s no longer holds", len(gone), contributor_id)
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
            if time.monotonic() - self._placement_checked >= PLACEMENT_CHECK_SECONDS:
                try:
                    await self.check_placement()
                except Exception:
                    log.exception("placement check failed")

    async def check_placement(self) -> None:
        """Say why tasks larger than every agent that may take work wait; fail the overdue."""
        self._placement_checked = time.monotonic()
        offers = {s.contributor_id: s.memory_bytes for s in self.sessions.values()}
        largest = await self._db.run(largest_placeable_offer, offers)
        overdue = await self._db.run(check_placement, largest, self._unplaceable_timeout)
        for job_id in overdue:
            assert largest is not None
            self.on_settled(await self._db.run(fail_unplaceable, job_id, largest))

    async def dispatch_round(self) -> None:
        """Fill every agent's free cores, then its prefetch slots; withdraw for the idle."""
        starved = await self._fill(0)
        if self._prefetch_per_core > 0:
            await self._fill(self._prefetch_per_core)
        self._withdraw_for(starved)

    async def _fill(self, prefetch_per_core: int) -> set[str]:
        """Claim for every agent with room, tightest first, until nothing more is claimed.

        Returns the placeable agents that had room and found nothing to claim.
        """
        starved: set[str] = set()
        progress = True
        while progress:
            progress = False
            # Best fit: the agent with the least room picks first, so a small task
            # takes a small hole and the large holes stay for the tasks that need them.
            for session in sorted(self.sessions.values(), key=lambda s: s.largest_fit):
                room = session.room(prefetch_per_core)
                if room <= 0 or self.sessions.get(session.contributor_id) is not session:
                    continue
                claims = await self._db.run(
                    claim_tasks,
                    session.contributor_id,
                    session.largest_fit,
                    room,
                    self._lease_seconds,
                    self._policy_defaults,
                )
                if claims.assignments:
                    progress = True
                    starved.discard(session.contributor_id)
                    await self._send(session, claims.assignments)
                elif claims.placeable:
                    starved.add(session.contributor_id)
        return starved

    async def _send(self, session: AgentSession, claimed: list[AssignmentView]) -> None:
        """Count the claimed assignments against the agent, read their inputs, send them."""
        for assignment in claimed:
            session.hold(assignment.attempt_id, assignment.memory_bytes)
            self.on_claimed(assignment)
            ids = TaskIds(assignment.job_id, assignment.task_index, assignment.attempt_id)
            log.info(
                "%s assigned to contributor %s%s",
                ids,
                session.contributor_id,
                " (a rerun)" if assignment.rerun else "",
                extra=ids.extra,
            )
        for assignment in claimed:
            ready = await self._with_input(assignment)
            if ready is None:
                session.free(assignment.attempt_id)
                continue
            session.outbox.put_nowait(ready)
        self._events.notify(sorted({a.job_id for a in claimed}))

    def _withdraw_for(self, starved: set[str]) -> None:
        """Withdraw prefetched assignments from busy agents for agents left idle.

        An agent that still has a free core after its claim in this round found nothing
        is idle for want of work: the queue has no task for it. (One freed while the
        round ran is not: its claim comes next round.) Assignments other agents hold
        beyond their cores may not have started; the newest of those that fit an idle
        agent are withdrawn, one per idle core. Agents that have started them just
        run them.
        """
        idle = [
            s
            for contributor_id in starved
            if (s := self.sessions.get(contributor_id)) is not None and s.free_slots > 0
        ]
        if not idle:
            return
        fit = max(s.largest_fit for s in idle)
        ahead: list[tuple[float, AgentSession, int]] = []
        for session in self.sessions.values():
            extra = len(session.running) - session.cores - len(session.withdrawing)
            newest = sorted(
                (at, attempt_id)
                for attempt_id, at in session.assigned_at.items()
                if attempt_id not in session.withdrawing
            )[::-1]
            ahead += [(at, session, attempt_id) for at, attempt_id in newest[: max(0, extra)]]
        ahead = [item for item in ahead if item[1].running.get(item[2], fit + 1) <= fit]
        for _, session, attempt_id in sorted(ahead, key=lambda item: -item[0])[
            : sum(s.free_slots for s in idle)
        ]:
            session.withdrawing.add(attempt_id)
            session.outbox.put_nowait(WithdrawOrder(attempt_id))
            log.info("withdrawing attempt %d from %s", attempt_id, session.contributor_id)

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
