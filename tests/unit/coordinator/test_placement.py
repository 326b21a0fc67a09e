"""A task larger than every connected agent says why it waits, and fails after a while."""

from __future__ import annotations

import asyncio

from sqlalchemy import update
from sqlalchemy.orm import Session

from runsurge.coordinator import jobs
from runsurge.coordinator.dispatch import AgentSession, Dispatcher
from runsurge.coordinator.events import JobEvents
from runsurge.coordinator.placement import check_placement, fail_unplaceable
from runsurge.coordinator.views import JobView
from runsurge.kinds import EstimateSource
from runsurge.store.models import Contributor, Task
from runsurge.store.states import ContributorState, JobState, TaskState
from tests.unit.coordinator.scene import GiB, MiB, Scene


def _view(scene: Scene, consumer: str, job_id: str) -> JobView:
    return scene.db.call(jobs.job_view, consumer, job_id, scene.blobs, 64 * 1024)


def test_task_larger_than_every_agent_says_why_it_waits(scene: Scene) -> None:
    consumer = scene.consumer()
    big = scene.submit(consumer, [b"big"], reservation=2 * GiB)
    small = scene.submit(consumer, [b"small"], reservation=256 * MiB)

    assert scene.db.call(check_placement, 1 * GiB, 600.0) == []

    reason = _view(scene, consumer, big).waiting_reason
    assert "2.0 GiB" in reason and "largest: 1.0 GiB" in reason
    assert _view(scene, consumer, small).waiting_reason == ""
    assert scene.task(big, 0).state is TaskState.QUEUED


def test_an_agent_large_enough_or_no_agent_at_all_clears_the_reason(scene: Scene) -> None:
    consumer = scene.consumer()
    big = scene.submit(consumer, [b"big"], reservation=2 * GiB)
    scene.db.call(check_placement, 1 * GiB, 600.0)

    scene.db.call(check_placement, 4 * GiB, 600.0)
    assert _view(scene, consumer, big).waiting_reason == ""
    scene.db.call(check_placement, 1 * GiB, 600.0)
    scene.db.call(check_placement, None, 600.0)  # an outage stops the clock
    assert scene.job(big).unplaceable_since is None


def test_unplaceable_task_fails_after_the_timeout_naming_reservation_and_offer(
    scene: Scene,
) -> None:
    consumer = scene.consumer()
    big = scene.submit(consumer, [b"big"], reservation=2 * GiB)
    scene.submit(consumer, [b"small"], reservation=256 * MiB)

    assert scene.db.call(check_placement, 1 * GiB, 0.0) == [big]
    scene.db.call(fail_unplaceable, big, 1 * GiB)

    task = scene.task(big, 0)
    assert task.state is TaskState.FAILED and task.error_kind == "UNPLACEABLE"
    assert "reserves 2.0 GiB" in task.error_message
    assert "largest connected contributor offers 1.0 GiB" in task.error_message
    assert scene.job(big).state is JobState.FAILED
    assert _view(scene, consumer, big).waiting_reason == ""


def test_dispatcher_fails_tasks_no_connected_agent_can_hold(scene: Scene) -> None:
    big = scene.submit(scene.consumer(), [b"big"], reservation=2 * GiB)
    machine = scene.contributor(memory=1 * GiB)

    async def body() -> None:
        dispatcher = Dispatcher(
            scene.db, JobEvents(), 30.0, scene.blobs, scene.policy_defaults, 0.0
        )
        await dispatcher.check_placement()  # no agent: nothing is judged
        assert scene.task(big, 0).state is TaskState.QUEUED
        dispatcher.attach(AgentSession(machine, cores=1, memory_bytes=1 * GiB))
        await dispatcher.check_placement()

    asyncio.run(body())
    assert scene.task(big, 0).state is TaskState.FAILED


def test_a_draining_agents_offer_does_not_count_as_room_for_a_waiting_task(
    scene: Scene,
) -> None:
    big = scene.submit(scene.consumer(), [b"big"], reservation=2 * GiB)
    small = scene.contributor(memory=1 * GiB)
    leaving = scene.contributor(memory=4 * GiB)
    scene.db.call(
        lambda s: setattr(s.get(Contributor, leaving), "state", ContributorState.DRAINING)
    )

    async def body() -> None:
        dispatcher = Dispatcher(
            scene.db, JobEvents(), 30.0, scene.blobs, scene.policy_defaults, 0.0
        )
        dispatcher.attach(AgentSession(small, cores=1, memory_bytes=1 * GiB))
        dispatcher.attach(AgentSession(leaving, cores=1, memory_bytes=4 * GiB))
        await dispatcher.check_placement()

    asyncio.run(body())
    task = scene.task(big, 0)
    assert task.state is TaskState.FAILED, "the draining 4 GiB agent was counted"
    assert "largest connected contributor offers 1.0 GiB" in task.error_message


def _set_source(
    scene: Scene, job_id: str, source: EstimateSource, estimate_bytes: int = 3 * GiB
) -> None:
    def change(session: Session) -> None:
        session.execute(
            update(Task)
            .where(Task.job_id == job_id)
            .values(estimate_method=source, estimate_bytes=estimate_bytes)
        )

    scene.db.call(change)


def test_a_reservation_only_a_static_prior_raised_is_lowered_to_the_largest_offer(
    scene: Scene,
) -> None:
    consumer = scene.consumer()
    guessed = scene.submit(consumer, [b"guess"], reservation=3 * GiB)
    measured = scene.submit(consumer, [b"measured"], reservation=3 * GiB)
    default = scene.submit(consumer, [b"default"], reservation=3 * GiB)
    _set_source(scene, guessed, EstimateSource.STATIC)
    _set_source(scene, measured, EstimateSource.HISTORY)
    # A small prior under a 3 GiB default: the operator's default decided, not the prior.
    _set_source(scene, default, EstimateSource.STATIC, estimate_bytes=20 * MiB)

    scene.db.call(check_placement, 1 * GiB, 600.0)

    # A guess never fails a task: it runs at the largest offer, where the kernel decides.
    assert scene.task(guessed, 0).memory_reservation_bytes == 1 * GiB
    assert _view(scene, consumer, guessed).waiting_reason == ""
    # A measured need still waits for a contributor that can hold it.
    assert scene.task(measured, 0).memory_reservation_bytes == 3 * GiB
    assert "3.0 GiB" in _view(scene, consumer, measured).waiting_reason
    assert scene.task(default, 0).memory_reservation_bytes == 3 * GiB
    assert "3.0 GiB" in _view(scene, consumer, default).waiting_reason
