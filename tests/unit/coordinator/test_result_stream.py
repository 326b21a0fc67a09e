"""Finishing positions: given when an input becomes final, resumable, complete at the end."""

from __future__ import annotations

import asyncio

import pytest

from runsurge.coordinator import jobs, result_stream
from runsurge.coordinator.events import JobEvents
from runsurge.coordinator.result_stream import FinishedPage
from runsurge.coordinator.views import ErrorView
from runsurge.errors import NotFound
from runsurge.kinds import OutcomeKind
from tests.unit.coordinator.scene import Scene


def _page(
    scene: Scene, consumer: str, job_id: str, after: int = 0, limit: int = 10
) -> FinishedPage:
    return scene.db.call(result_stream.finished_after, consumer, job_id, after, limit, scene.blobs)


def test_inputs_come_in_the_order_they_finished_not_input_order(scene: Scene) -> None:
    consumer = scene.consumer()
    job_id = scene.submit(consumer, [b"0", b"1", b"2"])
    machine = scene.contributor(cores=3)
    claims = {a.task_index: a for a in (scene.claimed(machine) for _ in range(3))}
    scene.report(machine, claims[2].attempt_id, result=b'{"i": 2}')
    error = ErrorView("SCRIPT_ERROR", "ValueError", "bad input", "Traceback ...")
    scene.report(machine, claims[0].attempt_id, OutcomeKind.SCRIPT_ERROR, error=error)

    page = _page(scene, consumer, job_id)

    assert [(r.view.index, r.view.state) for r in page.results] == [
        (2, "SUCCEEDED"),
        (0, "FAILED"),
    ]
    assert page.results[0].view.result_json == b'{"i": 2}'
    assert page.results[1].view.error == error
    assert page.results[0].position < page.results[1].position
    assert not page.complete  # input 1 still runs

    scene.report(machine, claims[1].attempt_id)
    rest = _page(scene, consumer, job_id, after=page.results[-1].position)

    assert [r.view.index for r in rest.results] == [1]
    assert rest.complete
    assert _page(scene, consumer, job_id, after=rest.results[-1].position) == FinishedPage([], True)


def test_a_full_page_is_not_complete_even_when_the_job_is_done(scene: Scene) -> None:
    consumer = scene.consumer()
    job_id = scene.submit(consumer, [b"0", b"1"])
    machine = scene.contributor(cores=2)
    for _ in range(2):
        scene.report(machine, scene.claimed(machine).attempt_id)

    first = _page(scene, consumer, job_id, limit=2)
    last = _page(scene, consumer, job_id, after=first.results[-1].position, limit=2)

    assert len(first.results) == 2 and not first.complete
    assert last == FinishedPage([], True)


def test_cancelled_inputs_get_positions_after_every_earlier_one_in_input_order(
    scene: Scene,
) -> None:
    consumer = scene.consumer()
    job_id = scene.submit(consumer, [b"0", b"1", b"2", b"3"])
    machine = scene.contributor(cores=2)
    first, _running = scene.claimed(machine), scene.claimed(machine)
    scene.report(machine, first.attempt_id)
    seen = _page(scene, consumer, job_id)

    scene.db.call(jobs.cancel_job, consumer, job_id)
    rest = _page(scene, consumer, job_id, after=seen.results[-1].position)

    assert [r.view.index for r in seen.results] == [0]
    assert [(r.view.index, r.view.state) for r in rest.results] == [
        (1, "CANCELLED"),
        (2, "CANCELLED"),
        (3, "CANCELLED"),
    ]
    positions = [r.position for r in seen.results + rest.results]
    assert positions == sorted(set(positions))
    assert rest.complete
    assert scene.job(job_id).finished_seq >= positions[-1]


def test_another_consumers_job_has_no_results_stream(scene: Scene) -> None:
    owner, stranger = scene.consumer("owner"), scene.consumer("stranger")
    job_id = scene.submit(owner)

    with pytest.raises(NotFound):
        _page(scene, stranger, job_id)


def test_follow_wakes_on_an_event_and_ends_after_the_last_input(scene: Scene) -> None:
    consumer = scene.consumer()
    job_id = scene.submit(consumer, [b"0", b"1"])
    machine = scene.contributor(cores=2)
    claims = [scene.claimed(machine), scene.claimed(machine)]
    events = JobEvents()

    async def scenario() -> list[int]:
        seen: list[int] = []

        async def finish_later() -> None:
            for claim in reversed(claims):
                await asyncio.sleep(0.05)
                await scene.db.run(lambda s: None)  # let the follower read first
                scene.report(machine, claim.attempt_id)
                events.notify([job_id])

        finisher = asyncio.create_task(finish_later())
        async for found in result_stream.follow(scene.db, scene.blobs, events, consumer, job_id):
            seen.append(found.view.index)
        await finisher
        return seen

    assert asyncio.run(asyncio.wait_for(scenario(), 30)) == [1, 0]
