"""The agent's own admission gate: at most `cores` tasks at once, within offered memory.

The coordinator sends an agent one assignment per free core, and, when its queue is
deep, one more per core that waits here for a core (a prefetch, so the next task starts
the moment one ends; the coordinator withdraws it if another agent goes idle, see
dispatch.py). It may also be wrong about what is free: after a reconnect, or when a
cancelled task is still stopping. Whatever it sends, the agent itself starts a task
only when a core is free and the reservations of the running tasks plus this one fit
in the memory it offered: the machine is never asked for more than it lent. Idle warm
sessions count too: their memory is held until they close, and a task that needs it
has them evicted (`warm.WarmPool.evict`) rather than waiting for them to expire.
Assignments start in the order they arrived (`enqueue`), so a prefetched input never
overtakes the one sent ahead of it because its files came in sooner.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Protocol


def free_for_new_tasks(
    offer_bytes: int,
    reserved: Mapping[int, int],
    used: Mapping[int, int],
    host_available_bytes: int,
) -> int:
    """The largest reservation a new task could hold now, as heartbeats report it.

    Within the offer, less what the attempts held (`reserved`, by attempt id) reserve;
    and within what the host really has: other programs on a contributor's machine
    use memory too, and each running attempt may still grow from what it uses now
    (`used`; an attempt not sampled yet counts as using nothing) up to its reservation.
    Idle warm sessions are left out: a task that needs their memory has them evicted.
    """
    by_offer = offer_bytes - sum(reserved.values())
    headroom = sum(max(0, size - used.get(attempt, 0)) for attempt, size in reserved.items())
    by_host = host_available_bytes - headroom
    return max(0, min(by_offer, by_host))


class IdleMemory(Protocol):
    """Memory held by idle warm sessions (warm.WarmPool)."""

    def held_bytes(self, sparing: tuple[str, str] | None = None) -> int:
        """Reserved by idle sessions, one of `sparing`'s excepted."""
        ...

    def evict(self, needed_bytes: int, sparing: tuple[str, str] | None = None) -> int:
        """Close idle sessions of other jobs to free `needed_bytes`; the bytes freed."""
        ...


class _NoIdle:
    def held_bytes(self, sparing: tuple[str, str] | None = None) -> int:
        return 0

    def evict(self, needed_bytes: int, sparing: tuple[str, str] | None = None) -> int:
        return 0


class Slots:
    """Cores and memory shared by the tasks running on this agent."""

    def __init__(self, cores: int, memory_bytes: int, idle: IdleMemory | None = None) -> None:
        self.cores = cores
        self.memory_bytes = memory_bytes
        self.running = 0
        self.reserved = 0
        self._idle: IdleMemory = idle if idle is not None else _NoIdle()
        self._changed = asyncio.Condition()
        # Assignments in the order they arrived, until each takes a core or gives up:
        # a prefetched one never starts before one sent ahead of it.
        self._queue: set[int] = set()

    def enqueue(self, ticket: int) -> None:
        """An assignment arrived: it starts after those that arrived before it."""
        self._queue.add(ticket)

    def _turn(self, ticket: int | None) -> bool:
        return ticket is None or ticket not in self._queue or ticket == min(self._queue)

    def fits(self, reservation: int, key: tuple[str, str] | None = None) -> bool:
        """Whether a task of this reservation (of job/script `key`) could start now.

        Idle sessions of other jobs are evicted when that makes it fit; the task's own
        job keeps the one it is about to reuse.
        """
        if self.running >= self.cores:
            return False
        want = self.reserved + reservation + self._idle.held_bytes(key)
        if want > self.memory_bytes:
            self._idle.evict(want - self.memory_bytes, key)
            want = self.reserved + reservation + self._idle.held_bytes(key)
        # A task larger than the whole offer still runs alone rather than never.
        return self.running == 0 or want <= self.memory_bytes

    @asynccontextmanager
    async def hold(
        self,
        reservation: int,
        key: tuple[str, str] | None = None,
        give_up: Callable[[], bool] | None = None,
        ticket: int | None = None,
    ) -> AsyncIterator[bool]:
        """Wait for a core and the memory, hold them for the block; True once held.

        When `give_up` turns true while waiting (re-checked on `poke`), the block runs
        at once with False and nothing held: a withdrawn or cancelled assignment does
        not wait behind the tasks in front of it.
        """
        stop = give_up if give_up is not None else (lambda: False)
        async with self._changed:
            await self._changed.wait_for(
                lambda: stop() or (self._turn(ticket) and self.fits(reservation, key))
            )
            self._leave(ticket)
            if stop():
                held = False
            else:
                held = True
                self.running += 1
                self.reserved += reservation
        if not held:
            yield False
            return
        try:
            yield True
        finally:
            async with self._changed:
                self.running -= 1
                self.reserved -= reservation
                self._changed.notify_all()

    def _leave(self, ticket: int | None) -> None:
        if ticket is not None and ticket in self._queue:
            self._queue.discard(ticket)
            self._changed.notify_all()

    async def forget(self, ticket: int) -> None:
        """An assignment ended without waiting here (its files could not be fetched)."""
        async with self._changed:
            self._leave(ticket)

    async def poke(self) -> None:
        """Have waiting tasks look again at whether they should give up."""
        async with self._changed:
            self._changed.notify_all()
