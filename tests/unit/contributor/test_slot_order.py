"""The agent's slots start assignments in the order they arrived, and let a withdrawn or
cancelled one stop waiting at once."""

from __future__ import annotations

import asyncio

from runsurge.contributor.slots import Slots

MiB = 1024 * 1024


async def _take(slots: Slots, ticket: int, started: list[int], release: asyncio.Event) -> None:
    async with slots.hold(MiB, ticket=ticket) as held:
        assert held
        started.append(ticket)
        await release.wait()


def test_a_prefetched_assignment_never_starts_before_one_sent_ahead_of_it() -> None:
    async def scenario() -> list[int]:
        slots, started, release = Slots(1, 64 * MiB), [], asyncio.Event()
        for ticket in (1, 2, 3):
            slots.enqueue(ticket)
        # The later assignments reach the slots first (their files came in sooner).
        later = [asyncio.create_task(_take(slots, t, started, release)) for t in (3, 2)]
        await asyncio.sleep(0.05)
        assert started == [], "nothing starts before the first assignment"
        first = asyncio.create_task(_take(slots, 1, started, release))
        release.set()
        await asyncio.wait_for(asyncio.gather(first, *later), 10)
        return started

    assert asyncio.run(scenario()) == [1, 2, 3]


def test_a_withdrawn_assignment_stops_waiting_for_a_core() -> None:
    async def scenario() -> bool:
        slots, started, release = Slots(1, 64 * MiB), [], asyncio.Event()
        slots.enqueue(1)
        slots.enqueue(2)
        running = asyncio.create_task(_take(slots, 1, started, release))
        await asyncio.sleep(0.05)
        withdrawn = False

        async def waiter() -> bool:
            async with slots.hold(MiB, give_up=lambda: withdrawn, ticket=2) as held:
                return held

        waiting = asyncio.create_task(waiter())
        await asyncio.sleep(0.05)
        withdrawn = True
        await slots.poke()
        held = await asyncio.wait_for(waiting, 10)  # while the first still holds the core
        release.set()
        await running
        return held

    assert asyncio.run(scenario()) is False
