"""In-process notifications that a job changed, so watchers wake at once.

Correctness never depends on them: watchers also re-read the database on a timer,
which covers changes made by another coordinator process.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Iterable, Iterator


class Subscription:
    """One watcher's flag for one job; set by every change until cleared."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def clear(self) -> None:
        """Forget changes seen so far (call before reading the job)."""
        self._event.clear()

    def set(self) -> None:
        """Record a change."""
        self._event.set()

    async def wait(self, timeout: float, min_delay: float = 0.0) -> None:
        """Return once a change was recorded or `timeout` passed, never before `min_delay`."""
        if min_delay:
            await asyncio.sleep(min_delay)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), max(timeout - min_delay, 0.0))


class JobEvents:
    """Wakes the watchers of a job when something about it changed."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscription]] = defaultdict(set)

    def notify(self, job_ids: Iterable[str]) -> None:
        """Flag a change to every watcher of these jobs."""
        for job_id in job_ids:
            for subscription in self._subscribers.get(job_id, ()):
                subscription.set()

    @contextlib.contextmanager
    def subscribe(self, job_id: str) -> Iterator[Subscription]:
        """Watch a job for the duration of the block; no change is missed in between."""
        subscription = Subscription()
        self._subscribers[job_id].add(subscription)
        try:
            yield subscription
        finally:
            subscribers = self._subscribers.get(job_id)
            if subscribers is not None:
                subscribers.discard(subscription)
                if not subscribers:
                    del self._subscribers[job_id]
