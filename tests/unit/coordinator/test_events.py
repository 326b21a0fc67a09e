"""Watchers are woken by changes, including ones that happen before they start waiting."""

from __future__ import annotations

import asyncio
import time

from runsurge.coordinator.events import JobEvents


def test_a_change_before_the_wait_is_not_missed() -> None:
    async def scenario() -> float:
        events = JobEvents()
        with events.subscribe("job") as changes:
            changes.clear()
            events.notify(["job"])  # while the watcher is busy reading the job
            start = time.monotonic()
            await changes.wait(timeout=5.0)
            return time.monotonic() - start

    assert asyncio.run(scenario()) < 1.0


def test_other_jobs_do_not_wake_a_watcher_and_unsubscribing_cleans_up() -> None:
    async def scenario() -> tuple[float, JobEvents]:
        events = JobEvents()
        with events.subscribe("mine") as changes:
            changes.clear()
            events.notify(["other"])
            start = time.monotonic()
            await changes.wait(timeout=0.3)
            return time.monotonic() - start, events

    waited, events = asyncio.run(scenario())
    assert waited >= 0.29
    assert events._subscribers == {}
