"""Idle warm sessions hold memory: they count against admission and are evicted for work."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runsurge.contributor.slots import Slots
from runsurge.contributor.warm import WarmPool
from runsurge.sandbox import Entrypoint, SubprocessRunner
from runsurge.sandbox.policy import MiB, SandboxPolicy
from runsurge.sandbox.runner import WarmSession

SCRIPT = "def process(data):\n    return {}\n"


@pytest.fixture
def open_session(tmp_path: Path) -> Iterator[object]:
    runner = SubprocessRunner()
    script = tmp_path / "s.py"
    script.write_text(SCRIPT)
    opened: list[WarmSession] = []

    def open_(memory: int) -> tuple[WarmSession, SandboxPolicy]:
        policy = SandboxPolicy(memory_bytes=memory)
        session = runner.open_session(script, Entrypoint.PROCESS, policy, label="idle")
        opened.append(session)
        return session, policy

    yield open_
    for session in opened:
        session.close()


def _wait_closed(session: WarmSession) -> bool:
    deadline = time.monotonic() + 5
    while session.alive and time.monotonic() < deadline:
        time.sleep(0.01)
    return not session.alive


def test_a_task_of_another_job_evicts_the_oldest_idle_session_it_needs_room_from(
    open_session,  # type: ignore[no-untyped-def]
) -> None:
    pool = WarmPool(max_idle=4)
    slots = Slots(cores=2, memory_bytes=512 * MiB, idle=pool)
    first, first_policy = open_session(300 * MiB)
    second, second_policy = open_session(200 * MiB)
    pool.give_back(("job-a", "s"), first, first_policy)
    pool.give_back(("job-b", "s"), second, second_policy)
    assert pool.held_bytes() == 500 * MiB

    async def admit() -> None:
        async with slots.hold(100 * MiB, ("job-c", "s")):
            assert slots.reserved + pool.held_bytes() <= slots.memory_bytes

    asyncio.run(asyncio.wait_for(admit(), 5))
    assert _wait_closed(first)  # the oldest, which freed enough
    assert second.alive and pool.held_bytes() == 200 * MiB


def test_a_task_reusing_its_own_jobs_idle_session_does_not_count_it_twice(
    open_session,  # type: ignore[no-untyped-def]
) -> None:
    pool = WarmPool(max_idle=4)
    slots = Slots(cores=2, memory_bytes=512 * MiB, idle=pool)
    own, own_policy = open_session(400 * MiB)
    pool.give_back(("job-a", "s"), own, own_policy)
    assert slots.fits(400 * MiB, ("job-a", "s"))  # its session becomes its reservation
    assert own.alive and pool.held_bytes() == 400 * MiB


def test_without_eviction_idle_memory_would_block_admission(
    open_session,  # type: ignore[no-untyped-def]
) -> None:
    pool = WarmPool(max_idle=4)
    busy = Slots(cores=2, memory_bytes=512 * MiB, idle=pool)
    busy.running, busy.reserved = 1, 200 * MiB  # one task is running
    idle, policy = open_session(300 * MiB)
    pool.give_back(("job-a", "s"), idle, policy)
    # 200 running + 300 idle + 100 wanted > 512: only an eviction makes room.
    assert busy.fits(100 * MiB, ("job-b", "s"))
    assert pool.held_bytes() == 0 and _wait_closed(idle)


def test_free_memory_is_bounded_by_the_offer_less_what_the_attempts_reserve() -> None:
    from runsurge.contributor.slots import free_for_new_tasks

    MiB = 1024 * 1024
    reserved = {1: 256 * MiB, 2: 256 * MiB}
    assert free_for_new_tasks(1024 * MiB, reserved, {}, 64 * 1024 * MiB) == 512 * MiB


def test_free_memory_leaves_room_for_running_attempts_to_grow_on_a_busy_host() -> None:
    from runsurge.contributor.slots import free_for_new_tasks

    MiB = 1024 * 1024
    # The host has 600 MiB available; attempt 1 uses 100 of its 256 MiB and may take
    # 156 more, attempt 2 has no sample yet and may take all of its 256 MiB.
    reserved, used = {1: 256 * MiB, 2: 256 * MiB}, {1: 100 * MiB}
    assert free_for_new_tasks(4096 * MiB, reserved, used, 600 * MiB) == 188 * MiB
    assert free_for_new_tasks(4096 * MiB, reserved, {}, 100 * MiB) == 0  # never negative
