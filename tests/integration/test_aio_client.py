"""`runsurge.aio.Client` against a real cluster: each test body runs in `asyncio.run`.

Completion order is made known by sleeping, as in test_pool.py: on one agent with a
slot per input every input starts at once, so 0 s finishes before 2 s before 4 s.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TypeVar

import pytest

from runsurge import aio
from runsurge.client import InputResult, JobStatus
from runsurge.errors import JobFailed
from tests.integration.cluster import Cluster, wait_until
from tests.integration.executions import assert_each_ran_once, runs
from tests.integration.test_pool import OUT_OF_ORDER, SLEEPY

T = TypeVar("T")


def _run(cluster: Cluster, body: Callable[[aio.Client], Awaitable[T]]) -> T:
    """`body(client)` inside a fresh event loop, with a client that is closed after."""

    async def main() -> T:
        async with aio.Client(cluster.address, cluster.consumer_token) as client:
            return await body(client)

    return asyncio.run(main())


def _wide(cluster_factory: type[Cluster]) -> Cluster:
    cluster = cluster_factory()
    cluster.add_contributor(cores=3, memory="3GiB")
    return cluster


@pytest.mark.database_independent
def test_submit_then_result_returns_the_scripts_dict(cluster: Cluster) -> None:
    async def body(client: aio.Client) -> tuple[dict[str, object], str]:
        job = await client.submit(SLEEPY, "0", labels={"via": "aio"})
        result = await job.result(timeout=120)
        listed = await client.jobs()
        return result, listed[0].labels["via"]

    assert _run(cluster, body) == ({"slept": 0.0}, "aio")


@pytest.mark.database_independent
def test_a_groups_as_completed_yields_in_finishing_order(
    cluster_factory: type[Cluster],
) -> None:
    async def body(client: aio.Client) -> tuple[list[int], list[int], list[object]]:
        job = await client.submit_group(SLEEPY, OUT_OF_ORDER)
        finished = [outcome.index async for outcome in job.as_completed()]
        listed = [outcome.index async for outcome in job.results()]
        futures = await client.map(SLEEPY, OUT_OF_ORDER)
        in_order = await asyncio.gather(*futures)
        return finished, listed, in_order

    finished, listed, in_order = _run(_wide(cluster_factory), body)
    assert finished == [1, 2, 0]
    assert listed == [0, 1, 2]
    assert in_order == [{"slept": 4.0}, {"slept": 0.0}, {"slept": 2.0}]


@pytest.mark.database_independent
def test_a_failing_input_raises_job_failed_with_its_error_as_attributes(
    cluster: Cluster,
) -> None:
    async def body(client: aio.Client) -> tuple[JobFailed, BaseException | None]:
        job = await client.submit(SLEEPY, "0:fail")
        with pytest.raises(JobFailed) as single:
            await job.result(timeout=120)
        futures = await client.map(SLEEPY, ["0", "0:fail"])
        done = await asyncio.gather(*futures, return_exceptions=True)
        return single.value, done[1] if isinstance(done[1], BaseException) else None

    single, mapped = _run(cluster, body)
    assert (single.error_type, single.index) == ("ValueError", 0)
    assert single.message == "asked to fail after 0 s"
    assert "raise ValueError" in single.traceback
    assert isinstance(mapped, JobFailed) and mapped.index == 1
    assert mapped.error_type == "ValueError"


@pytest.mark.database_independent
def test_cancel_stops_a_running_job_and_its_logs_are_readable(cluster: Cluster) -> None:
    async def body(client: aio.Client) -> tuple[str, str, str]:
        job = await client.submit(SLEEPY, "600")
        started = lambda: runs(cluster, job.id)[0] == 1  # noqa: E731
        await asyncio.to_thread(wait_until, started, 60, "the input to start")
        cancelled = await job.cancel()
        final = await job.wait(timeout=60)
        logs = await job.logs(0)
        return cancelled.state, final.state, logs.state

    assert _run(cluster, body) == ("CANCELLED", "CANCELLED", "CANCELLED")


@pytest.mark.database_independent
def test_two_jobs_awaited_together_with_gather_both_give_their_results(
    cluster_factory: type[Cluster],
) -> None:
    async def body(client: aio.Client) -> list[dict[str, object]]:
        first, second = await asyncio.gather(client.submit(SLEEPY, "2"), client.submit(SLEEPY, "0"))
        return list(await asyncio.gather(first.result(timeout=120), second.result(timeout=120)))

    assert _run(_wide(cluster_factory), body) == [{"slept": 2.0}, {"slept": 0.0}]


@pytest.mark.database_independent
def test_a_lazy_input_that_raises_reaches_the_caller_and_its_job_runs_nothing(
    cluster: Cluster,
) -> None:
    def inputs() -> Iterator[str]:
        yield "0"
        raise ValueError("input source broke")

    async def body(client: aio.Client) -> list[JobStatus]:
        with pytest.raises(ValueError, match="input source broke"):
            await client.submit_group(SLEEPY, inputs(), name="broken")
        return [job for job in await client.jobs() if job.name == "broken"]

    broken = _run(cluster, body)
    # The half-sent job was dropped: failed, never a complete one-input job that runs.
    assert [(job.state, job.tasks.succeeded) for job in broken] in ([], [("FAILED", 0)])


def test_as_completed_resumes_across_a_coordinator_restart(cluster_factory) -> None:  # type: ignore[no-untyped-def]
    cluster: Cluster = cluster_factory()
    cluster.add_contributor(cores=2, memory="2GiB")

    async def body(client: aio.Client) -> tuple[str, list[int], list[int], str]:
        job = await client.submit_group(SLEEPY, ["0", "0", "3", "3"])
        stream = job.as_completed()
        before = [(await anext(stream)).index, (await anext(stream)).index]
        await asyncio.to_thread(
            wait_until, lambda: runs(cluster, job.id)[3] == 1, 60, "the last inputs to start"
        )
        await asyncio.to_thread(cluster.stop_coordinator)
        # Read on while the coordinator is down: the stream waits for it to come back.
        reader = asyncio.create_task(_indices(stream))
        await asyncio.to_thread(cluster.start_coordinator)  # same port, same database
        after = await asyncio.wait_for(reader, 120)
        return job.id, before, after, (await job.wait(timeout=60)).state

    job_id, before, after, state = _run(cluster, body)
    assert sorted(before) == [0, 1]
    assert sorted(after) == [2, 3], f"after the restart: {after}"
    assert state == "SUCCEEDED"
    assert_each_ran_once(cluster, job_id, 4)


async def _indices(stream: AsyncIterator[InputResult]) -> list[int]:
    return [outcome.index async for outcome in stream]
