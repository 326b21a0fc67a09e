"""What the coordinator does after each change: lose, free slots, stop attempts, go offline.

A real Coordinator (built as the server builds it, without the network) on both
databases; agents are `AgentSession`s whose outboxes the tests read.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import threading
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import update

from runsurge.config import CoordinatorSettings
from runsurge.coordinator.app import GRACE_HEARTBEATS, Coordinator, build_coordinator
from runsurge.coordinator.dispatch import AgentSession, CancelOrder
from runsurge.coordinator.jobs import lock_job
from runsurge.coordinator.policy import recorded_policy
from runsurge.coordinator.views import AssignmentView, FinishedAttempt
from runsurge.kinds import OutcomeKind
from runsurge.store.models import Contributor, Job, utcnow
from runsurge.store.states import AttemptState, ContributorState, JobState, TaskState
from tests.unit.coordinator.scene import MiB, Scene

T = TypeVar("T")


@pytest.fixture
def coordinator(db_url: str, tmp_path: Path) -> Iterator[Coordinator]:
    settings = CoordinatorSettings(
        data_dir=tmp_path / "coordinator", db_url=db_url, task_wall_seconds=77.0, task_pids=9
    )
    built = build_coordinator(settings, gate=None)
    try:
        yield built
    finally:
        built.db.close()


@pytest.fixture
def world(coordinator: Coordinator) -> Scene:
    return Scene(coordinator.db, coordinator.blobs)


def _run(body: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return asyncio.run(body())


async def _connected(coordinator: Coordinator, contributor_id: str) -> AgentSession:
    """An agent whose stream is open and whose free slots were just filled."""
    session = await coordinator.open_work_stream(contributor_id)
    await coordinator.dispatcher.dispatch_round()
    return session


def _assignments(session: AgentSession) -> list[AssignmentView]:
    items = []
    while not session.outbox.empty():
        item = session.outbox.get_nowait()
        if isinstance(item, AssignmentView):
            items.append(item)
    return items


def test_heartbeat_that_omits_an_old_attempt_loses_it_and_frees_its_slot(
    coordinator: Coordinator, world: Scene
) -> None:
    job_id = world.submit(world.consumer())
    machine = world.contributor()
    grace = coordinator.settings.heartbeat_interval_seconds * GRACE_HEARTBEATS

    async def body() -> AgentSession:
        session = await _connected(coordinator, machine)
        (attempt_id,) = session.running
        world.backdate(attempt_id, grace + 1)
        coordinator.streams_opened_at[machine] -= dt.timedelta(seconds=grace + 1)
        await coordinator.heartbeat(session, [])
        return session

    session = _run(body)
    assert session.running == {}
    (lost,) = world.attempts_of(job_id, 0)
    assert lost.state is AttemptState.LOST
    assert world.task(job_id, 0).state is TaskState.QUEUED


def test_heartbeat_listing_an_attempt_keeps_it(coordinator: Coordinator, world: Scene) -> None:
    job_id = world.submit(world.consumer())
    machine = world.contributor()

    async def body() -> AgentSession:
        session = await _connected(coordinator, machine)
        (attempt_id,) = session.running
        world.backdate(attempt_id, 3600)
        await coordinator.heartbeat(session, [attempt_id])
        return session

    session = _run(body)
    assert len(session.running) == 1
    assert world.task(job_id, 0).state is TaskState.RUNNING


def test_first_heartbeat_after_a_reconnect_loses_nothing_it_does_not_list(
    coordinator: Coordinator, world: Scene
) -> None:
    job_id = world.submit(world.consumer())
    machine = world.contributor()

    async def body() -> None:
        first = await _connected(coordinator, machine)
        (attempt_id,) = first.running
        world.backdate(attempt_id, 3600)
        await coordinator.close_work_stream(first)
        again = await coordinator.open_work_stream(machine)  # its report is on its way
        await coordinator.heartbeat(again, [])

    _run(body)
    assert world.task(job_id, 0).state is TaskState.RUNNING


def test_heartbeat_mentioning_attempts_that_are_over_stops_them_on_the_agent(
    coordinator: Coordinator, world: Scene
) -> None:
    consumer = world.consumer()
    job_id = world.submit(consumer)
    machine = world.contributor()

    async def body() -> list[object]:
        first = await _connected(coordinator, machine)
        (attempt_id,) = first.running
        await coordinator.close_work_stream(first)
        await coordinator.cancel_job(consumer, job_id)  # while the agent is away
        again = await coordinator.open_work_stream(machine)
        await coordinator.heartbeat(again, [attempt_id], [attempt_id + 1000])
        return [again.outbox.get_nowait() for _ in range(again.outbox.qsize())]

    orders = _run(body)
    (attempt,) = world.attempts_of(job_id, 0)
    assert [(o.attempt_id, type(o)) for o in orders] == [  # type: ignore[attr-defined]
        (attempt.id, CancelOrder),
        (attempt.id + 1000, CancelOrder),
    ]


def test_lease_sweep_closes_the_stream_of_a_silent_agent(
    coordinator: Coordinator, world: Scene
) -> None:
    job_id = world.submit(world.consumer())
    machine = world.contributor()

    async def body() -> AgentSession:
        session = await _connected(coordinator, machine)
        _assignments(session)
        (attempt_id,) = session.running
        world.backdate(attempt_id, coordinator.settings.lease_seconds + 1)
        world.db.call(
            lambda s: s.execute(
                update(Contributor)
                .where(Contributor.id == machine)
                .values(last_seen=utcnow() - dt.timedelta(seconds=3600))
            )
        )
        await coordinator.sweep_lapsed_leases()
        return session

    session = _run(body)
    assert session.outbox.get_nowait() is None  # the stream ends; no new work goes to it
    assert machine not in coordinator.dispatcher.sessions
    assert world.task(job_id, 0).state is TaskState.QUEUED


def test_start_up_renews_the_leases_of_attempts_left_running(
    coordinator: Coordinator, world: Scene
) -> None:
    job_id = world.submit(world.consumer())
    assignment = world.claimed(world.contributor())
    world.backdate(assignment.attempt_id, 3600)
    settings = coordinator.settings

    restarted = build_coordinator(settings, gate=None)
    try:
        _run(restarted.sweep_lapsed_leases)
    finally:
        restarted.db.close()

    assert world.task(job_id, 0).state is TaskState.RUNNING
    lease = world.attempt(assignment.attempt_id).lease_expires_at
    assert lease > utcnow() + dt.timedelta(seconds=settings.startup_grace_seconds - 5)


def test_finished_report_settles_the_job_and_frees_the_slot(
    coordinator: Coordinator, world: Scene
) -> None:
    job_id = world.submit(world.consumer())
    machine = world.contributor()

    async def body() -> AgentSession:
        session = await _connected(coordinator, machine)
        (attempt_id,) = session.running
        report = FinishedAttempt(attempt_id, OutcomeKind.OK, result_json=b'{"v": 2}')
        await coordinator.attempt_finished(machine, report)
        return session

    assert _run(body).running == {}
    assert world.job(job_id).state is JobState.SUCCEEDED


def test_rejected_report_changes_nothing_but_still_frees_the_slot(
    coordinator: Coordinator, world: Scene
) -> None:
    job_id = world.submit(world.consumer())
    machine = world.contributor()

    async def body() -> AgentSession:
        session = await _connected(coordinator, machine)
        (attempt_id,) = session.running
        report = FinishedAttempt(attempt_id, OutcomeKind.OK, result_json=b"[not an object]")
        await coordinator.attempt_finished(machine, report)
        return session

    assert _run(body).running == {}
    assert world.task(job_id, 0).state is TaskState.RUNNING  # lost later, by its lease


def test_cancelling_a_job_tells_the_agent_running_it_to_stop(
    coordinator: Coordinator, world: Scene
) -> None:
    consumer = world.consumer()
    job_id = world.submit(consumer)
    machine = world.contributor()

    async def body() -> list[object]:
        session = await _connected(coordinator, machine)
        _assignments(session)
        await coordinator.cancel_job(consumer, job_id)
        return [session.outbox.get_nowait() for _ in range(session.outbox.qsize())]

    (order,) = _run(body)
    assert isinstance(order, CancelOrder) and order.reason == "the job was stopped"
    assert world.job(job_id).state is JobState.CANCELLED


def test_lease_sweep_loses_lapsed_attempts_and_requeues_their_tasks(
    coordinator: Coordinator, world: Scene
) -> None:
    job_id = world.submit(world.consumer())
    machine = world.contributor()

    async def body() -> None:
        session = await _connected(coordinator, machine)
        (attempt_id,) = session.running
        world.backdate(attempt_id, coordinator.settings.lease_seconds + 1)
        await coordinator.sweep_lapsed_leases()
        await coordinator.sweep_lapsed_leases()

    _run(body)
    (lost,) = world.attempts_of(job_id, 0)
    assert lost.state is AttemptState.LOST
    task = world.task(job_id, 0)
    assert task.state is TaskState.QUEUED and task.attempt_count == 1


def test_closing_the_only_stream_takes_the_contributor_offline(
    coordinator: Coordinator, world: Scene
) -> None:
    machine = world.contributor()

    async def body() -> tuple[ContributorState, ContributorState]:
        old = await coordinator.open_work_stream(machine)
        new = await coordinator.open_work_stream(machine)  # the agent reconnected
        await coordinator.close_work_stream(old)
        after_old = world.contributor_row(machine).state
        await coordinator.close_work_stream(new)
        return after_old, world.contributor_row(machine).state

    assert _run(body) == (ContributorState.ONLINE, ContributorState.OFFLINE)


def test_assignments_carry_the_policy_decided_from_the_coordinators_settings(
    coordinator: Coordinator, world: Scene
) -> None:
    job_id = world.submit(world.consumer(), reservation=300 * MiB)
    machine = world.contributor()

    async def body() -> list[AssignmentView]:
        return _assignments(await _connected(coordinator, machine))

    (assignment,) = _run(body)
    assert assignment.policy == coordinator.settings.default_policy(300 * MiB)
    assert (assignment.policy.wall_seconds, assignment.policy.pids) == (77.0, 9)
    (attempt,) = world.attempts_of(job_id, 0)
    assert recorded_policy(attempt) == assignment.policy


def test_lease_sweep_frees_the_slot_of_a_still_connected_agent_and_stops_the_attempt(
    coordinator: Coordinator, world: Scene
) -> None:
    job_id = world.submit(world.consumer())
    machine = world.contributor()

    async def body() -> tuple[AgentSession, list[object], list[AssignmentView]]:
        session = await _connected(coordinator, machine)
        (attempt_id,) = session.running
        _assignments(session)
        world.backdate(attempt_id, coordinator.settings.lease_seconds + 1)
        await coordinator.sweep_lapsed_leases()
        orders = [session.outbox.get_nowait() for _ in range(session.outbox.qsize())]
        await coordinator.dispatcher.dispatch_round()  # the requeued task: slot is free
        return session, orders, _assignments(session)

    session, orders, again = _run(body)
    (lost,) = [a for a in world.attempts_of(job_id, 0) if a.state is AttemptState.LOST]
    assert [o.attempt_id for o in orders if isinstance(o, CancelOrder)] == [lost.id]
    assert [a.job_id for a in again] == [job_id]
    assert set(session.running) == {again[0].attempt_id}


def test_a_reconnecting_agent_keeps_the_slots_of_what_it_still_runs(
    coordinator: Coordinator, world: Scene
) -> None:
    consumer = world.consumer()
    first = world.submit(consumer)
    machine = world.contributor()

    async def body() -> tuple[list[AssignmentView], list[AssignmentView], dict[int, int]]:
        old = await _connected(coordinator, machine)
        before = _assignments(old)
        world.submit(consumer)
        world.submit(consumer)
        new = await _connected(coordinator, machine)  # e.g. after a coordinator restart
        return before, _assignments(new), dict(new.running)

    before, after, running = _run(body)
    assert [a.job_id for a in before] == [first]
    # Its one core is still busy with the first job's task: of the two queued, it is
    # sent only the one prefetched assignment a busy core may hold.
    assert len(after) == 1
    assert set(running) == {before[0].attempt_id, after[0].attempt_id}


class _JobLockHolder:
    """Another transaction that holds a job's lock (its row on PostgreSQL, the writer
    lock on SQLite) until released: what a slow concurrent move of the job looks like.

    SQLite takes its writer lock only at a transaction's first write, which never came
    before the parse; the PostgreSQL runs are the ones that see a parse under the lock.
    """

    def __init__(self, coordinator: Coordinator, job_id: str) -> None:
        self._locked, self._release = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._hold, args=(coordinator, job_id))

    def _hold(self, coordinator: Coordinator, job_id: str) -> None:
        with coordinator.db.transaction() as session:
            lock_job(session, job_id)
            session.execute(update(Job).where(Job.id == job_id).values(name="held"))
            session.flush()
            self._locked.set()
            self._release.wait(30)

    def __enter__(self) -> _JobLockHolder:
        self._thread.start()
        assert self._locked.wait(10), "the holder never took the lock"
        return self

    def __exit__(self, *_: object) -> None:
        self._release.set()
        self._thread.join(10)


async def _until(predicate: Callable[[], bool], seconds: float) -> bool:
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.02)
    return predicate()


def test_a_result_is_stored_while_another_transaction_holds_its_jobs_lock(
    coordinator: Coordinator, world: Scene
) -> None:
    job_id = world.submit(world.consumer())
    machine = world.contributor()
    result = b'{"stored": "before the lock"}'
    sha = hashlib.sha256(result).hexdigest()

    async def body() -> tuple[bool, bool]:
        session = await _connected(coordinator, machine)
        (attempt_id,) = session.running
        report = FinishedAttempt(attempt_id, OutcomeKind.OK, result_json=result)
        with _JobLockHolder(coordinator, job_id):
            finishing = asyncio.create_task(coordinator.attempt_finished(machine, report))
            stored = await _until(lambda: coordinator.blobs.exists(sha), 5)
            waited = not finishing.done()  # the settling transaction waits for the lock
        await finishing
        return stored, waited

    stored, waited = _run(body)
    assert stored, "the result was not stored until the job's lock was free"
    assert waited
    task = world.task(job_id, 0)
    assert task.state is TaskState.SUCCEEDED and task.result_sha256 == sha


def test_a_bad_result_is_refused_without_waiting_for_its_jobs_lock(
    coordinator: Coordinator, world: Scene
) -> None:
    job_id = world.submit(world.consumer())
    machine = world.contributor()

    async def body() -> bool:
        session = await _connected(coordinator, machine)
        (attempt_id,) = session.running
        report = FinishedAttempt(attempt_id, OutcomeKind.OK, result_json=b"[not an object]")
        with _JobLockHolder(coordinator, job_id):
            finishing = asyncio.create_task(coordinator.attempt_finished(machine, report))
            refused = await _until(finishing.done, 5)
        await finishing
        return refused and attempt_id not in session.running

    assert _run(body), "the bad result was only refused once the job's lock was free"
    assert world.task(job_id, 0).state is TaskState.RUNNING
