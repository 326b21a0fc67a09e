"""The dispatcher fills free slots with tasks that fit, and never over-commits a machine."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from runsurge.coordinator.dispatch import AgentSession, CancelOrder, Dispatcher, Outgoing
from runsurge.coordinator.events import JobEvents
from runsurge.coordinator.views import AssignmentView
from runsurge.store.states import JobState, TaskState
from tests.unit.coordinator.scene import GiB, MiB, Scene

T = TypeVar("T")


def _run(scene: Scene, body: Callable[[Dispatcher], Awaitable[T]], prefetch: int = 0) -> T:
    """Run `body` with a dispatcher; without prefetch unless asked (test_prefetch.py)."""

    async def scenario() -> T:
        dispatcher = Dispatcher(
            scene.db,
            JobEvents(),
            scene.lease_seconds,
            scene.blobs,
            scene.policy_defaults,
            prefetch_per_core=prefetch,
        )
        return await body(dispatcher)

    return asyncio.run(scenario())


def _drain(session: AgentSession) -> list[Outgoing]:
    items = []
    while not session.outbox.empty():
        items.append(session.outbox.get_nowait())
    return items


def _assignments(session: AgentSession) -> list[AssignmentView]:
    return [item for item in _drain(session) if isinstance(item, AssignmentView)]


def test_agent_is_given_one_assignment_per_free_core(scene: Scene) -> None:
    scene.submit(scene.consumer(), [b"%d" % i for i in range(10)])
    machine = scene.contributor(cores=2)

    async def body(dispatcher: Dispatcher) -> list[int]:
        session = AgentSession(machine, cores=2, memory_bytes=8 * GiB)
        dispatcher.attach(session)
        await dispatcher.dispatch_round()
        await dispatcher.dispatch_round()
        assert set(session.running) == {a.attempt_id for a in _assignments(session)}
        return list(session.running)

    assert len(_run(scene, body)) == 2


def test_assignments_never_reserve_more_than_the_offer(scene: Scene) -> None:
    scene.submit(scene.consumer(), [b"%d" % i for i in range(10)], reservation=512 * MiB)
    machine = scene.contributor(cores=8, memory=1 * GiB)

    async def body(dispatcher: Dispatcher) -> int:
        session = AgentSession(machine, cores=8, memory_bytes=1 * GiB)
        dispatcher.attach(session)
        await dispatcher.dispatch_round()
        return sum(session.running.values())

    assert _run(scene, body) == 1 * GiB


def test_task_larger_than_the_offer_is_never_assigned(scene: Scene) -> None:
    job_id = scene.submit(scene.consumer(), [b"big"], reservation=1 * GiB)
    machine = scene.contributor(cores=4, memory=1 * GiB - 1)

    async def body(dispatcher: Dispatcher) -> list[AssignmentView]:
        session = AgentSession(machine, cores=4, memory_bytes=1 * GiB - 1)
        dispatcher.attach(session)
        await dispatcher.dispatch_round()
        return _assignments(session)

    assert _run(scene, body) == []
    assert scene.task(job_id, 0).state is TaskState.QUEUED


def test_free_agent_gets_the_work_while_another_is_busy(scene: Scene) -> None:
    scene.submit(scene.consumer(), [b"a", b"b", b"c"])
    busy_id, free_id = scene.contributor("busy"), scene.contributor("free")

    async def body(dispatcher: Dispatcher) -> tuple[int, int]:
        busy = AgentSession(busy_id, cores=1, memory_bytes=4 * GiB)
        free = AgentSession(free_id, cores=1, memory_bytes=4 * GiB)
        dispatcher.attach(busy)
        await dispatcher.dispatch_round()  # fills the busy agent's one slot
        dispatcher.attach(free)
        await dispatcher.dispatch_round()
        return len(_assignments(busy)), len(_assignments(free))

    assert _run(scene, body) == (1, 1)


def test_no_assignment_waits_on_a_busy_agent_while_another_is_idle(scene: Scene) -> None:
    consumer = scene.consumer()
    first, second = scene.contributor("first"), scene.contributor("second")
    long_job = scene.submit(consumer, [b"long"])

    async def body(dispatcher: Dispatcher) -> tuple[list[str], list[str], str]:
        busy = AgentSession(first, cores=1, memory_bytes=4 * GiB)
        idle = AgentSession(second, cores=1, memory_bytes=4 * GiB)
        dispatcher.attach(busy)
        await dispatcher.dispatch_round()  # the long task runs on the first agent
        dispatcher.attach(idle)
        short_job = scene.submit(consumer, [b"short"])
        await dispatcher.dispatch_round()
        return (
            [a.job_id for a in _assignments(busy)],
            [a.job_id for a in _assignments(idle)],
            short_job,
        )

    on_busy, on_idle, short_job = _run(scene, body)
    assert on_busy == [long_job] and on_idle == [short_job]


def test_a_slot_the_agent_no_longer_lists_is_freed_after_the_grace(scene: Scene) -> None:
    scene.submit(scene.consumer(), [b"a", b"b"])
    machine = scene.contributor()

    async def body(dispatcher: Dispatcher) -> tuple[int, int]:
        session = AgentSession(machine, cores=1, memory_bytes=4 * GiB)
        dispatcher.attach(session)
        await dispatcher.dispatch_round()
        dispatcher.reconcile(machine, [], grace_seconds=60.0)  # may still be in flight
        young = len(session.running)
        dispatcher.reconcile(machine, [], grace_seconds=0.0)
        return young, len(session.running)

    assert _run(scene, body) == (1, 0)


def test_released_attempt_frees_its_slot_for_the_next_task(scene: Scene) -> None:
    scene.submit(scene.consumer(), [b"a", b"b", b"c"])
    machine = scene.contributor()

    async def body(dispatcher: Dispatcher) -> list[int]:
        session = AgentSession(machine, cores=1, memory_bytes=4 * GiB)
        dispatcher.attach(session)
        await dispatcher.dispatch_round()
        order = [a.task_index for a in _assignments(session)]
        for _ in range(2):
            (attempt_id,) = session.running
            scene.report(machine, attempt_id)
            dispatcher.released(machine, attempt_id)
            await dispatcher.dispatch_round()
            order += [a.task_index for a in _assignments(session)]
        return order

    assert _run(scene, body) == [0, 1, 2]


def test_cancel_reaches_only_the_agent_running_the_attempt(scene: Scene) -> None:
    scene.submit(scene.consumer(), [b"a"])
    runner_id, other_id = scene.contributor("runner"), scene.contributor("other")

    async def body(dispatcher: Dispatcher) -> tuple[list[Outgoing], list[Outgoing]]:
        runner = AgentSession(runner_id, cores=1, memory_bytes=4 * GiB)
        other = AgentSession(other_id, cores=1, memory_bytes=4 * GiB)
        dispatcher.attach(runner)
        await dispatcher.dispatch_round()
        (attempt_id,) = runner.running
        _drain(runner)
        dispatcher.attach(other)
        dispatcher.cancel(other_id, attempt_id, "not yours")
        dispatcher.cancel(runner_id, attempt_id, "the job was stopped")
        dispatcher.cancel(runner_id, attempt_id + 1000, "unknown attempt")
        return _drain(runner), _drain(other)

    to_runner, to_other = _run(scene, body)
    assert len(to_runner) == 1 and isinstance(to_runner[0], CancelOrder)
    assert to_runner[0].reason == "the job was stopped"
    assert to_other == []


def test_a_new_stream_of_the_same_contributor_closes_the_old_one(scene: Scene) -> None:
    machine = scene.contributor()

    async def body(dispatcher: Dispatcher) -> tuple[list[Outgoing], bool]:
        old = AgentSession(machine, cores=1, memory_bytes=GiB)
        new = AgentSession(machine, cores=1, memory_bytes=GiB)
        dispatcher.attach(old)
        dispatcher.attach(new)
        dispatcher.detach(old)  # the old stream's clean-up runs late
        return _drain(old), dispatcher.sessions.get(machine) is new

    closed, new_kept = _run(scene, body)
    assert closed == [None] and new_kept


def test_assignment_wakes_the_watchers_of_its_job(scene: Scene) -> None:
    job_id = scene.submit(scene.consumer())
    machine = scene.contributor()

    async def scenario() -> float:
        events = JobEvents()
        dispatcher = Dispatcher(
            scene.db, events, scene.lease_seconds, scene.blobs, scene.policy_defaults
        )
        with events.subscribe(job_id) as changes:
            changes.clear()
            dispatcher.attach(AgentSession(machine, cores=1, memory_bytes=GiB))
            await dispatcher.dispatch_round()
            start = time.monotonic()
            await changes.wait(timeout=5.0)
            return time.monotonic() - start

    assert asyncio.run(scenario()) < 1.0


def test_a_task_whose_input_is_missing_or_corrupt_fails_alone(scene: Scene) -> None:
    consumer = scene.consumer()
    missing, corrupt = scene.submit(consumer, [b"missing"]), scene.submit(consumer, [b"corrupt"])
    healthy = scene.submit(consumer, [b"healthy"])
    scene.blobs.path_of(scene.task(missing, 0).input_sha256).unlink()
    scene.blobs.path_of(scene.task(corrupt, 0).input_sha256).write_bytes(b"tampered")
    machine = scene.contributor(cores=4)

    async def body(dispatcher: Dispatcher) -> tuple[list[AssignmentView], dict[int, int]]:
        session = AgentSession(machine, cores=4, memory_bytes=8 * GiB)
        dispatcher.attach(session)
        await dispatcher.dispatch_round()
        return _assignments(session), dict(session.running)

    sent, running = _run(scene, body)
    assert [a.job_id for a in sent] == [healthy] and sent[0].input_inline == b"healthy"
    assert set(running) == {sent[0].attempt_id}  # the failed claims hold no slot
    for job_id, why in ((missing, "missing"), (corrupt, "corrupt")):
        task = scene.task(job_id, 0)
        assert task.state is TaskState.FAILED and task.error_kind == "INFRASTRUCTURE"
        assert task.error_message.startswith(f"input blob {task.input_sha256} is {why}")
        assert scene.job(job_id).state is JobState.FAILED


def test_a_small_task_takes_the_tightest_agent_leaving_the_large_one_free(scene: Scene) -> None:
    consumer = scene.consumer()
    small_job = scene.submit(consumer, [b"s"], reservation=128 * MiB)
    big_job = scene.submit(consumer, [b"b"], reservation=768 * MiB)
    large = scene.contributor(cores=1, memory=1 * GiB)
    small = scene.contributor(cores=1, memory=256 * MiB)

    async def body(dispatcher: Dispatcher) -> tuple[list[AssignmentView], list[AssignmentView]]:
        # The large agent attached first: first fit would hand it the small task.
        on_large = AgentSession(large, cores=1, memory_bytes=1 * GiB)
        on_small = AgentSession(small, cores=1, memory_bytes=256 * MiB)
        dispatcher.attach(on_large)
        dispatcher.attach(on_small)
        await dispatcher.dispatch_round()
        return _assignments(on_large), _assignments(on_small)

    on_large, on_small = _run(scene, body)
    assert [a.job_id for a in on_small] == [small_job]
    assert [a.job_id for a in on_large] == [big_job]


def test_an_agent_reporting_little_free_memory_gets_no_task_above_it(scene: Scene) -> None:
    # Its offer is 1 GiB, but other programs on its machine left 300 MiB free.
    job_id = scene.submit(scene.consumer(), [b"a", b"b"], reservation=256 * MiB)
    machine = scene.contributor(cores=4, memory=1 * GiB)

    async def body(dispatcher: Dispatcher) -> list[AssignmentView]:
        session = AgentSession(machine, cores=4, memory_bytes=1 * GiB)
        session.report_free(300 * MiB, [])
        dispatcher.attach(session)
        await dispatcher.dispatch_round()
        return _assignments(session)

    sent = _run(scene, body)
    assert len(sent) == 1  # the second 256 MiB would exceed what the machine has
    assert scene.task(job_id, 1).state is TaskState.QUEUED


def test_assignments_since_the_last_heartbeat_count_against_its_free_figure() -> None:
    session = AgentSession("c", cores=4, memory_bytes=4 * GiB)
    session.report_free(1 * GiB, [])
    session.hold(7, 512 * MiB)  # sent after that heartbeat: not in its figure
    assert session.largest_fit == 512 * MiB
    session.report_free(512 * MiB, [7])  # the next heartbeat counted it
    assert session.largest_fit == 512 * MiB
    session.report_free(8 * GiB, [7])  # never above the offer less what it holds
    assert session.largest_fit == 4 * GiB - 512 * MiB
