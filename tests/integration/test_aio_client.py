"""`runsurge.aio.Client` against a real cluster: each test body runs in `asyncio.run`.

Completion order is made known by sleeping, as in test_pool.py: on one agent with a
slot per input every input starts at once, so 0 s finishes before 2 s before 4 s.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TypeVar

import pytest

from runsurge import aio
from runsurge.client import InputResult, Invoice, JobStatus, TaskOutput, TaskSample
from runsurge.client.job import TaskLogs
from runsurge.errors import JobFailed
from tests.integration.cluster import Cluster, wait_until
from tests.integration.executions import assert_each_ran_once, runs
from tests.integration.test_billing import PRICED
from tests.integration.test_billing import SCRIPT as MEMORY_HOLDING
from tests.integration.test_monitoring import FAST_SAMPLES, SPIN
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
def test_wait_calls_on_update_with_each_snapshot_plain_or_coroutine(cluster: Cluster) -> None:
    async def body(client: aio.Client) -> tuple[list[str], list[str]]:
        plain: list[str] = []
        awaited: list[str] = []

        async def record(status: JobStatus) -> None:
            await asyncio.sleep(0)
            awaited.append(status.state)

        job = await client.submit(SLEEPY, "0.5")
        await job.wait(timeout=120, on_update=lambda status: plain.append(status.state))
        await job.wait(timeout=120, on_update=record)  # final already: one snapshot
        return plain, awaited

    plain, awaited = _run(cluster, body)
    assert plain[-1] == "SUCCEEDED" and len(plain) >= 2  # it changed while awaited
    assert awaited == ["SUCCEEDED"]


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


@pytest.mark.database_independent
def test_jobs_filtered_by_state_and_name_return_only_the_matching_jobs(cluster: Cluster) -> None:
    async def body(client: aio.Client) -> tuple[dict[str, str], dict[str, list[str]]]:
        succeeded = await client.submit(SLEEPY, "0", name="aio-one")
        await succeeded.wait(timeout=120)
        failed = await client.submit(SLEEPY, "0:fail", name="other-two")
        await failed.wait(timeout=120)
        cancelled = await client.submit(SLEEPY, "600", name="AIO-three")
        await cancelled.cancel()
        ids = {"one": succeeded.id, "two": failed.id, "three": cancelled.id}
        names = {v: k for k, v in ids.items()}

        def listed(jobs: list[JobStatus]) -> list[str]:
            return [names[job.id] for job in jobs]

        return ids, {
            "all": listed(await client.jobs()),
            "succeeded": listed(await client.jobs(state="SUCCEEDED")),
            "final": listed(await client.jobs(state=["SUCCEEDED", "FAILED"])),
            "aio": listed(await client.jobs(name="aio-")),
            "both": listed(await client.jobs(state="CANCELLED", name="aio")),
            "none": listed(await client.jobs(state="RUNNING", name="aio")),
            "newest": listed(await client.jobs(limit=1)),
        }

    ids, found = _run(cluster, body)
    assert found == {
        "all": ["three", "two", "one"],  # newest first
        "succeeded": ["one"],
        "final": ["two", "one"],
        "aio": ["three", "one"],  # the name matches ignoring case
        "both": ["three"],
        "none": [],
        "newest": ["three"],
    }
    with cluster.client() as sync:  # the sync client's filters, the same answers
        assert [job.id for job in sync.jobs(state=["SUCCEEDED", "FAILED"])] == [
            ids["two"],
            ids["one"],
        ]


@pytest.mark.database_independent
def test_contributors_lists_the_running_agent_as_the_sync_client_does(cluster: Cluster) -> None:
    rows = _run(cluster, lambda client: client.contributors())
    with cluster.client() as sync:
        expected = sync.contributors()
    assert [(row["name"], row["online"], row["cores"], row["state"]) for row in rows] == [
        ("test-1", True, 1, "ONLINE")
    ]
    moving = {"last_seen", "load_1m", "free_memory_bytes", "cpu_percent", "disk_free_bytes"}
    assert [{k: v for k, v in row.items() if k not in moving} for row in rows] == [
        {k: v for k, v in row.items() if k not in moving} for row in expected
    ]
    assert rows[0].keys() == expected[0].keys()


@pytest.mark.database_independent
def test_the_invoice_of_a_finished_group_has_a_charge_per_task(cluster_factory) -> None:  # type: ignore[no-untyped-def]
    cluster: Cluster = cluster_factory(coordinator_env=PRICED)
    cluster.add_contributor(cores=3, memory="3GiB")

    async def body(client: aio.Client) -> tuple[str, Invoice]:
        job = await client.submit_group(MEMORY_HOLDING, ["8", "24", "40"])
        await job.wait(timeout=120)
        return job.id, await job.invoice()

    job_id, bill = _run(cluster, body)
    assert sorted(line.task_index for line in bill.lines) == [0, 1, 2]
    assert all(line.cost > 0 and line.outcome for line in bill.lines)
    assert bill.total == sum(line.cost for line in bill.lines)
    with cluster.client() as sync:
        assert sync.job(job_id).invoice() == bill


@pytest.fixture
def monitored(cluster_factory) -> Cluster:  # type: ignore[no-untyped-def]
    """One one-core agent that samples its tasks fast (as in test_monitoring.py)."""
    cluster: Cluster = cluster_factory(contributor_env=dict(FAST_SAMPLES))
    cluster.add_contributor()
    return cluster


Event = JobStatus | TaskSample | TaskOutput


@pytest.mark.database_independent
def test_watch_yields_statuses_samples_and_the_output_with_the_final_status_last(
    monitored: Cluster,
) -> None:
    async def body(client: aio.Client) -> tuple[list[Event], list[TaskSample], list[TaskSample]]:
        job = await client.submit(SPIN, "1.5")
        events = [event async for event in job.watch(poll_seconds=0.2)]
        kept = await job.samples()
        return events, kept, await job.samples(after=kept[0].id)

    events, kept, after_first = _run(monitored, body)
    statuses = [e for e in events if isinstance(e, JobStatus)]
    samples = [e for e in events if isinstance(e, TaskSample)]
    outputs = [e for e in events if isinstance(e, TaskOutput)]
    assert events[-1] is statuses[-1] and statuses[-1].state == "SUCCEEDED"
    assert all(a != b for a, b in itertools.pairwise(statuses))  # on change only
    assert samples and all(s.index == 0 and s.memory_bytes > 0 for s in samples)
    assert [s.id for s in samples] == sorted({s.id for s in samples})  # each once, in order
    assert len(outputs) == 1 and "spun for 1.5 seconds" in outputs[0].text
    assert events.index(outputs[0]) < len(events) - 1
    assert kept == samples  # every sample stored was watched
    assert after_first == kept[1:]


@pytest.mark.database_independent
def test_outputs_followed_from_submission_yield_every_inputs_output_as_it_finishes(
    monitored: Cluster,
) -> None:
    async def body(client: aio.Client) -> tuple[bool, list[TaskOutput], list[TaskOutput]]:
        job = await client.submit_group(SPIN, ["0.5", "1", "0.2"])
        done_at_start = (await job.status()).done
        followed = [output async for output in job.outputs(follow=True)]
        return done_at_start, followed, [output async for output in job.outputs()]

    done_at_start, followed, afterwards = _run(monitored, body)
    assert not done_at_start
    # One core runs them in input order, so they finish in it.
    assert [(o.index, o.state) for o in followed] == [(i, "SUCCEEDED") for i in range(3)]
    for output, seconds in zip(followed, ["0.5", "1", "0.2"], strict=True):
        assert f"spun for {seconds} seconds" in output.text
    assert afterwards == followed  # read again once final: the same outputs, each once


@pytest.mark.database_independent
def test_logs_follow_waits_for_a_running_input_and_times_out_on_a_long_one(
    monitored: Cluster,
) -> None:
    async def body(client: aio.Client) -> tuple[TaskLogs, TaskLogs, str]:
        job = await client.submit(SPIN, "2")
        now = await job.logs(0)
        followed = await job.logs(0, follow=True, timeout=60)
        long = await client.submit(SLEEPY, "600")
        try:
            await long.logs(0, follow=True, timeout=1)
        except TimeoutError as exc:
            timed_out = str(exc)
        else:
            timed_out = ""
        await long.cancel()
        return now, followed, timed_out

    now, followed, timed_out = _run(monitored, body)
    assert now.state in {"QUEUED", "RUNNING"} and str(now) == ""
    assert followed.state == "SUCCEEDED" and "spun for 2 seconds" in followed
    assert timed_out.startswith("input 0 of job ") and "still" in timed_out


async def _indices(stream: AsyncIterator[InputResult]) -> list[int]:
    return [outcome.index async for outcome in stream]
