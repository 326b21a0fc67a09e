"""In-process notifications that a job changed, so watchers wake at once.

Correctness never depends on them: watchers also re-read the database on a timer,
which covers changes made by another coordinator process.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable


class JobEvents:
    """Wakes the watchers of a job when something about it changed."""

    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Event]] = defaultdict(set)

    def notify(self, job_ids: Iterable[str]) -> None:
        """Wake every watcher of these jobs."""
        for job_id in job_ids:
            for event in self._waiters.get(job_id, ()):
                event.set()

    async def wait(self, job_id: str, timeout: float) -> None:
        """Return when the job changes or `timeout` seconds pass."""
        event = asyncio.Event()
        self._waiters[job_id].add(event)
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            pass
        finally:
            waiters = self._waiters.get(job_id)
            if waiters is not None:
                waiters.discard(event)
                if not waiters:
                    del self._waiters[job_id]
