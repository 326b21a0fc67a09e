"""Batched claims and prefetch: a deep queue keeps every core's next task on its agent,
never at the cost of an idle agent (a prefetched assignment is withdrawn for it)."""

from __future__ import annotations

from runsurge.coordinator.attempts import claim_tasks
from runsurge.coordinator.dispatch import AgentSession, Dispatcher, WithdrawOrder
from runsurge.kinds import OutcomeKind
from runsurge.store.states import TaskState
from tests.unit.coordinator.scene import GiB, MiB, Scene
from tests.unit.coordinator.test_dispatch import _assignments, _drain, _run


def test_a_batch_claim_fits_the_free_memory_as_a_whole(scene: Scene) -> None:
    scene.submit(scene.consumer(), [b"%d" % i for i in range(10)], reservation=300 * MiB)
    machine = scene.contributor(cores=8)

    claims = scene.db.call(
        claim_tasks, machine, 1 * GiB, 8, scene.lease_seconds, scene.policy_defaults
    )

    assert claims.placeable
    assert [a.memory_bytes for a in claims.assignments] == [300 * MiB] * 3


def test_a_batch_claim_takes_the_tasks_in_input_order(scene: Scene) -> None:
    scene.submit(scene.consumer(), [b"%d" % i for i in range(5)])
    machine = scene.contributor(cores=4)

    claims = scene.db.call(
        claim_tasks, machine, 8 * GiB, 4, scene.lease_seconds, scene.policy_defaults
    )

    assert [a.task_index for a in claims.assignments] == [0, 1, 2, 3]


def test_a_batch_claim_alternates_between_consumers_as_single_claims_do(scene: Scene) -> None:
    first = scene.submit(scene.consumer("first"), [b"%d" % i for i in range(4)])
    second = scene.submit(scene.consumer("second"), [b"%d" % i for i in range(4)])
    machine = scene.contributor(cores=4)

    claims = scene.db.call(
        claim_tasks, machine, 8 * GiB, 4, scene.lease_seconds, scene.policy_defaults
    )

    jobs = [a.job_id for a in claims.assignments]
    assert sorted(jobs) == sorted([first, first, second, second])
    assert jobs[0] != jobs[1] and jobs[2] != jobs[3]


def test_a_deep_queue_gives_each_core_one_prefetched_assignment(scene: Scene) -> None:
    scene.submit(scene.consumer(), [b"%d" % i for i in range(10)])
    machine = scene.contributor(cores=2)

    async def body(dispatcher: Dispatcher) -> int:
        session = AgentSession(machine, cores=2, memory_bytes=8 * GiB)
        dispatcher.attach(session)
        await dispatcher.dispatch_round()
        await dispatcher.dispatch_round()
        assert set(session.running) == {a.attempt_id for a in _assignments(session)}
        return len(session.running)

    assert _run(scene, body, prefetch=1) == 4


def test_prefetched_assignments_never_reserve_more_than_the_offer(scene: Scene) -> None:
    scene.submit(scene.consumer(), [b"%d" % i for i in range(10)], reservation=300 * MiB)
    machine = scene.contributor(cores=2, memory=1 * GiB)

    async def body(dispatcher: Dispatcher) -> int:
        session = AgentSession(machine, cores=2, memory_bytes=1 * GiB)
        dispatcher.attach(session)
        await dispatcher.dispatch_round()
        return sum(session.running.values())

    assert _run(scene, body, prefetch=1) == 900 * MiB


def test_an_agent_left_idle_has_a_prefetched_assignment_withdrawn_for_it(scene: Scene) -> None:
    job_id = scene.submit(scene.consumer(), [b"long", b"next"])
    busy_id, idle_id = scene.contributor("busy"), scene.contributor("idle")

    async def body(dispatcher: Dispatcher) -> tuple[list[int], list[int]]:
        busy = AgentSession(busy_id, cores=1, memory_bytes=4 * GiB)
        dispatcher.attach(busy)
        await dispatcher.dispatch_round()  # the long task runs, the next one is prefetched
        first, prefetched = (a.attempt_id for a in _assignments(busy))
        idle = AgentSession(idle_id, cores=1, memory_bytes=4 * GiB)
        dispatcher.attach(idle)
        await dispatcher.dispatch_round()  # nothing queued for the idle agent
        withdrawn = [o.attempt_id for o in _drain(busy) if isinstance(o, WithdrawOrder)]
        assert withdrawn == [prefetched] and first != prefetched
        await dispatcher.dispatch_round()
        assert _drain(busy) == [], "a withdrawal is sent once"
        # The busy agent had not started it: it gives it back, and it is queued again.
        scene.report(busy_id, prefetched, OutcomeKind.CANCELLED, result=None)
        dispatcher.released(busy_id, prefetched)
        await dispatcher.dispatch_round()
        return [a.task_index for a in _assignments(idle)], withdrawn

    on_idle, _ = _run(scene, body, prefetch=1)
    assert on_idle == [1]
    assert scene.task(job_id, 1).attempt_count == 1, "a withdrawn attempt is not counted"
    assert scene.task(job_id, 1).state is TaskState.RUNNING


def test_no_withdrawal_of_a_task_too_big_for_the_idle_agent(scene: Scene) -> None:
    scene.submit(scene.consumer(), [b"long", b"next"], reservation=2 * GiB)
    busy_id, small_id = scene.contributor("busy"), scene.contributor("small", memory=GiB)

    async def body(dispatcher: Dispatcher) -> list[object]:
        busy = AgentSession(busy_id, cores=1, memory_bytes=8 * GiB)
        dispatcher.attach(busy)
        await dispatcher.dispatch_round()
        assert len(_assignments(busy)) == 2
        dispatcher.attach(AgentSession(small_id, cores=1, memory_bytes=1 * GiB))
        await dispatcher.dispatch_round()
        return _drain(busy)

    assert _run(scene, body, prefetch=1) == []


def test_an_agent_at_its_cores_has_nothing_withdrawn(scene: Scene) -> None:
    scene.submit(scene.consumer(), [b"a", b"b"])
    first_id, second_id = scene.contributor("first"), scene.contributor("second")

    async def body(dispatcher: Dispatcher) -> list[object]:
        first = AgentSession(first_id, cores=1, memory_bytes=4 * GiB)
        second = AgentSession(second_id, cores=1, memory_bytes=4 * GiB)
        dispatcher.attach(first)
        dispatcher.attach(second)
        await dispatcher.dispatch_round()  # one task each: nothing left to prefetch
        assert len(_assignments(first)) == len(_assignments(second)) == 1
        third_id = scene.contributor("third")
        dispatcher.attach(AgentSession(third_id, cores=1, memory_bytes=4 * GiB))
        await dispatcher.dispatch_round()
        return _drain(first) + _drain(second)

    assert _run(scene, body, prefetch=1) == []
