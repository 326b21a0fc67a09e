"""The agent's own admission gate: at most `cores` tasks at once, within offered memory.

The coordinator sends an agent at most one assignment per free core (no prefetch, so
nothing waits behind a long task here while another agent idles), but it may be wrong
about what is free: after a reconnect, or when a cancelled task is still stopping.
Whatever it sends, the agent itself starts a task only when a core is free and the
reservations of the running tasks plus this one fit in the memory it offered: the
machine is never asked for more than it lent.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class Slots:
    """Cores and memory shared by the tasks running on this agent."""

    def __init__(self, cores: int, memory_bytes: int) -> None:
        self.cores = cores
        self.memory_bytes = memory_bytes
        self.running = 0
        self.reserved = 0
        self._changed = asyncio.Condition()

    def fits(self, reservation: int) -> bool:
        """Whether a task of this reservation could start right now."""
        if self.running >= self.cores:
            return False
        # A task larger than the whole offer still runs alone rather than never.
        return self.running == 0 or self.reserved + reservation <= self.memory_bytes

    @asynccontextmanager
    async def hold(self, reservation: int) -> AsyncIterator[None]:
        """Wait for a core and the memory, hold them for the block."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.fits(reservation))
            self.running += 1
            self.reserved += reservation
        try:
            yield
        finally:
            async with self._changed:
                self.running -= 1
                self.reserved -= reservation
                self._changed.notify_all()
