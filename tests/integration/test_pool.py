"""Pool, Client.map futures and Job.as_completed against a real cluster.

Completion order is made known by sleeping: on one agent with a slot per input, every
input starts at once, so an input sleeping 0 s finishes before one sleeping 2 s,
which finishes before one sleeping 4 s, whatever the machine's noise.
"""

from __future__ import annotations

import concurrent.futures
import threading

import pytest

from runsurge import Pool
from runsurge.client import JobStatus
from runsurge.errors import JobFailed
from tests.integration.cluster import Cluster, wait_until
from tests.integration.executions import assert_each_ran_once, runs

SLEEPY = """
import time

def process(input_data: str) -> dict:
    seconds, _, fail = input_data.partition(":")
    time.sleep(float(seconds))
    if fail:
        raise ValueError(f"asked to fail after {seconds} s")
    return {"slept": float(seconds)}
"""
OUT_OF_ORDER = ["4", "0", "2"]  # finishes as 1, 2, 0


def _wide(cluster_factory: type[Cluster]) -> Cluster:
    """One agent with a slot for each of three inputs."""
    cluster = cluster_factory()
    cluster.add_contributor(cores=3, memory="3GiB")
    return cluster


def _pool(cluster: Cluster) -> Pool:
    return Pool(coordinator=cluster.address, token=cluster.consumer_token)


def _finishing_order(cluster: Cluster, job_id: str) -> list[int]:
    with cluster.client() as client:
        return [r.index for r in client.job(job_id).as_completed()]


@pytest.mark.database_independent
def test_map_and_imap_give_input_order_though_inputs_finish_out_of_order(
    cluster_factory: type[Cluster],
) -> None:
    cluster = _wide(cluster_factory)
    with _pool(cluster) as pool:
        mapped = pool.map(SLEEPY, OUT_OF_ORDER)
        iterator = pool.imap(SLEEPY, OUT_OF_ORDER)
        imapped = list(iterator)
        jobs = pool.jobs
    expected = [{"slept": 4.0}, {"slept": 0.0}, {"slept": 2.0}]
    assert mapped == expected and imapped == expected
    assert iterator.job.id == jobs[1].id
    # Else the order above proves nothing.
    assert [_finishing_order(cluster, job.id) for job in jobs] == [[1, 2, 0], [1, 2, 0]]


@pytest.mark.database_independent
def test_imap_unordered_and_futures_give_completion_order(
    cluster_factory: type[Cluster],
) -> None:
    cluster = _wide(cluster_factory)
    with _pool(cluster) as pool:
        unordered = list(pool.imap_unordered(SLEEPY, OUT_OF_ORDER))
    assert unordered == [{"slept": 0.0}, {"slept": 2.0}, {"slept": 4.0}]

    with cluster.client() as client:
        futures = client.map(SLEEPY, OUT_OF_ORDER)
        called: list[int] = []
        for index, future in enumerate(futures):
            future.add_done_callback(lambda _, index=index: called.append(index))
        completed = [futures.index(f) for f in concurrent.futures.as_completed(futures, 120)]
        done, not_done = concurrent.futures.wait(futures, timeout=120)
        assert (len(done), not_done) == (3, set())
        assert [f.result() for f in futures] == [{"slept": 4.0}, {"slept": 0.0}, {"slept": 2.0}]
    assert completed == [1, 2, 0]
    assert called == [1, 2, 0]


@pytest.mark.database_independent
def test_a_failing_input_raises_at_its_place_and_the_others_still_come(
    cluster_factory: type[Cluster],
) -> None:
    cluster = _wide(cluster_factory)
    with _pool(cluster) as pool:
        ordered = pool.imap(SLEEPY, ["0", "1:fail", "3"])
        assert next(ordered) == {"slept": 0.0}
        with pytest.raises(JobFailed) as failed:
            next(ordered)
        assert next(ordered) == {"slept": 3.0}  # as multiprocessing: iteration goes on
        assert list(ordered) == []

        unordered = pool.imap_unordered(SLEEPY, ["3", "0:fail"])
        with pytest.raises(JobFailed) as first:
            next(unordered)  # the failure finished first
        assert list(unordered) == [{"slept": 3.0}]

        with pytest.raises(JobFailed) as mapped:
            pool.map(SLEEPY, ["0", "2:fail", "1:fail"])
        handle = pool.map_async(SLEEPY, ["0", "0:fail"])
        handle.wait(120)
        assert handle.ready() and not handle.successful()
        with pytest.raises(JobFailed):
            handle.get()
    error = failed.value
    assert (error.index, error.kind, error.error_type) == (1, "SCRIPT_ERROR", "ValueError")
    assert error.message == "asked to fail after 1 s"
    assert 'raise ValueError(f"asked to fail' in error.traceback
    assert error.job_id == ordered.job.id
    assert first.value.index == 1
    assert mapped.value.index == 1  # the first failure in input order, not in time


@pytest.mark.database_independent
def test_map_async_fills_in_the_background_and_calls_back(
    cluster_factory: type[Cluster],
) -> None:
    cluster = _wide(cluster_factory)
    got: list[object] = []
    called = threading.Event()
    with _pool(cluster) as pool:
        handle = pool.map_async(
            SLEEPY, ["1", "0"], callback=lambda r: (got.append(r), called.set())
        )
        with pytest.raises(ValueError, match="not ready"):
            handle.successful()  # the inputs sleep: not ready right after the call
        assert handle.get(timeout=120) == [{"slept": 1.0}, {"slept": 0.0}]
        assert handle.successful()
        pool.close()
        pool.join()
    assert called.wait(5) and got == [[{"slept": 1.0}, {"slept": 0.0}]]


def test_leaving_the_pool_cancels_its_pending_work(cluster: Cluster) -> None:
    inputs = ["0", "60", "60", "60", "60"]  # one slot: the 60 s inputs wait their turn
    with _pool(cluster) as pool:
        iterator = pool.imap(SLEEPY, inputs)
        assert next(iterator) == {"slept": 0.0}
        job = iterator.job
    with cluster.client() as client:
        status = client.job(job.id).status()
        # The slot is free at once: the running 60 s input was stopped.
        assert client.submit(SLEEPY, "0").result(timeout=60) == {"slept": 0.0}
    assert (status.state, status.tasks.succeeded, status.tasks.cancelled) == ("CANCELLED", 1, 4)
    started = runs(cluster, job.id)
    assert set(started) <= {0, 1} and started[0] == 1, f"sandbox runs per input: {started}"


def test_a_results_stream_resumes_across_a_coordinator_restart(cluster_factory) -> None:  # type: ignore[no-untyped-def]
    cluster: Cluster = cluster_factory()
    cluster.add_contributor(cores=2, memory="2GiB")
    with cluster.client() as client:
        job = client.submit_group(SLEEPY, ["0", "0", "3", "3"])
        stream = job.as_completed()
        before = [next(stream).index, next(stream).index]
        wait_until(lambda: runs(cluster, job.id)[3] == 1, 60, "the last inputs to start")
        cluster.stop_coordinator()
        after: list[int] = []
        # Read on while the coordinator is down: the stream waits for it to come back.
        reader = threading.Thread(target=lambda: after.extend(r.index for r in stream))
        reader.start()
        cluster.start_coordinator()  # same port, same database
        reader.join(120)
        assert not reader.is_alive(), "the resumed stream did not end"
        final: JobStatus = job.wait(timeout=60)
    assert sorted(before) == [0, 1]
    assert sorted(after) == [2, 3], f"after the restart: {after}"
    assert final.state == "SUCCEEDED"
    assert_each_ran_once(cluster, job.id, 4)


@pytest.mark.database_independent
def test_result_follow_prints_each_input_as_it_finishes(cluster_factory: type[Cluster]) -> None:
    import json
    import subprocess
    import sys

    cluster = _wide(cluster_factory)
    with cluster.client() as client:
        job = client.submit_group(SLEEPY, ["8", "0", "2:fail"])
        follow = subprocess.Popen(
            [sys.executable, "-m", "runsurge", "result", job.id, "--per-input", "--follow"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=cluster.env,
        )
        assert follow.stdout is not None
        first = json.loads(follow.stdout.readline())
        running = client.job(job.id).status()  # input 0 sleeps 8 s more
        rest = [json.loads(line) for line in follow.stdout]
        assert follow.wait(60) == 1, follow.stderr.read() if follow.stderr else ""
    assert (first["index"], first["state"], first["result"]) == (1, "SUCCEEDED", {"slept": 0.0})
    assert not running.done
    assert [(line["index"], line["state"]) for line in rest] == [(2, "FAILED"), (0, "SUCCEEDED")]
    assert rest[0]["error"]["type"] == "ValueError"
