"""`Client(local=True)` and `Pool(local=True)`: the SDK with no coordinator, for real.

Every test runs scripts through the real harness in the real sandbox of this host;
completion order is made known by sleeping, as in test_pool.py.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runsurge import Client, Pool
from runsurge.client import Job
from runsurge.client.local import LocalClient
from runsurge.errors import InvalidRequest, JobFailed, NotFound, RunSurgeError, ScriptRejected
from runsurge.sandbox import detect_isolation
from tests.integration.test_pool import SLEEPY

WORDS = "def process(input_data):\n    return {'words': len(input_data.split())}\n"
COUNTER = """
CALLS = 0

def process(input_data: str) -> dict:
    global CALLS
    CALLS += 1
    return {"calls": CALLS}
"""
OWN_AGGREGATE = """
def process(input_data: str) -> dict:
    return {"n": int(input_data)}

def aggregate(results: list) -> dict:
    return {"product": __import__("math").prod(r["n"] for r in results)}
"""

pytestmark = pytest.mark.skipif(
    not detect_isolation().meets_minimum, reason="this host cannot sandbox"
)


@pytest.fixture
def client() -> Iterator[Client]:
    with Client(local=True, workers=3, require_sandbox=True) as local:
        yield local


def test_results_and_aggregates_are_what_the_local_loop_computes(client: Client) -> None:
    texts = ["a", "a b", "a b c", "", "one two three four"]
    single = client.submit(WORDS, "four words right here")
    group = client.submit_group(WORDS, texts, aggregate=["words=sum", "words=max"])
    assert single.result(timeout=30) == {"words": 4}
    assert group.result(timeout=30) == {
        "words.sum": sum(len(t.split()) for t in texts),
        "words.max": max(len(t.split()) for t in texts),
    }
    assert [r.result for r in group.results()] == [{"words": len(t.split())} for t in texts]
    status = group.status()
    assert (status.kind, status.state, status.tasks.succeeded) == ("group", "SUCCEEDED", 5)


def test_the_scripts_own_aggregate_runs_over_every_result(client: Client) -> None:
    group = client.submit_group(OWN_AGGREGATE, ["2", "3", "7"], aggregate="script")
    assert group.result(timeout=30) == {"product": 42}


def test_a_failing_input_raises_at_its_place_and_the_others_still_come() -> None:
    with Pool(local=True, processes=3) as pool:
        iterator = pool.imap(SLEEPY, ["0", "0:fail", "0.2"])
        assert next(iterator) == {"slept": 0.0}
        with pytest.raises(JobFailed) as failed:
            next(iterator)
        assert next(iterator) == {"slept": 0.2}
    error = failed.value
    assert (error.index, error.kind, error.error_type) == (1, "SCRIPT_ERROR", "ValueError")
    assert "asked to fail after 0 s" in error.message
    assert 'raise ValueError(f"asked to fail' in error.traceback


def test_as_completed_yields_inputs_in_the_order_they_finish(client: Client) -> None:
    group = client.submit_group(SLEEPY, ["2", "0", "1"])
    assert [r.index for r in group.as_completed()] == [1, 2, 0]
    assert [r.index for r in group.as_completed()] == [1, 2, 0]  # again, once final


def test_fail_fast_cancels_the_inputs_still_running_and_queued() -> None:
    started = time.monotonic()
    with Client(local=True, workers=2) as client:
        group = client.submit_group(SLEEPY, ["60", "0.3:fail", "60"], on_error="fail-fast")
        status = group.wait(timeout=30)
        states = [r.state for r in group.results()]
    # Closing waits for every run: the running 60 s input was killed, not left to finish.
    assert time.monotonic() - started < 30
    assert status.state == "FAILED" and status.error is not None
    assert status.error.kind == "FAIL_FAST" and "input 1 failed" in status.error.message
    assert states == ["CANCELLED", "FAILED", "CANCELLED"]


def test_cancel_kills_a_running_input_and_queued_ones_never_start() -> None:
    with Client(local=True, workers=1) as client:
        group = client.submit_group(SLEEPY, ["60", "0"])
        _wait_running(group)
        assert group.cancel().state == "CANCELLED"
        final = group.wait(timeout=20)
        # The only worker is free again: the 60 s input was killed, not left to finish.
        assert client.submit(WORDS, "a").result(timeout=20) == {"words": 1}
    assert final.state == "CANCELLED" and final.tasks.cancelled == 2


def test_inputs_never_reserve_more_memory_together_than_the_budget() -> None:
    # Two workers, but room for one 512 MiB input at a time: they must take turns.
    with Client(local=True, workers=2, memory_budget="768MiB") as client:
        group = client.submit_group(SLEEPY, ["0.6"] * 4, memory="512MiB")
        running = set()
        while not (status := group.status()).done:
            running.add(status.tasks.running)
            time.sleep(0.01)
        held_after = client._engine.memory.held_bytes  # type: ignore[attr-defined]
        small = client.submit_group(SLEEPY, ["0.6"] * 4, memory="256MiB")
        small_running = set()
        while not (small_status := small.status()).done:
            small_running.add(small_status.tasks.running)
            time.sleep(0.01)
    assert status.state == "SUCCEEDED" and max(running) == 1
    assert held_after == 0  # every reservation given back
    assert small_status.state == "SUCCEEDED" and max(small_running) == 2  # two fit at once


def test_a_job_whose_memory_alone_is_over_the_budget_is_refused() -> None:
    with (
        Client(local=True, memory_budget="256MiB") as client,
        pytest.raises(
            InvalidRequest, match=r"512.0 MiB is more than the 256.0 MiB local runs may reserve"
        ),
    ):
        client.submit(WORDS, "a", memory="512MiB")


def test_a_job_over_its_own_wall_limit_stops_at_that_limit(client: Client) -> None:
    job = client.submit(SLEEPY, "60", wall_time=1)
    with pytest.raises(JobFailed) as failed:
        job.result(timeout=30)
    assert failed.value.kind == "TIMEOUT"


def test_each_input_starts_from_the_script_as_imported_as_on_a_contributor() -> None:
    with Client(local=True, workers=1) as client:  # one worker: one warm session, reused
        group = client.submit_group(COUNTER, ["x"] * 3)
        group.wait(timeout=30)
        calls = [r.result for r in group.results()]
    assert calls == [{"calls": 1}] * 3  # what an input changes, the next does not see


def test_the_sandbox_holds_locally_no_connection_reaches_the_host(client: Client) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        script = (
            "import socket\n\ndef process(input_data):\n"
            f"    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
            "    return {'reached': True}\n"
        )
        with pytest.raises(JobFailed) as failed:
            client.submit(script, "").result(timeout=30)
    assert failed.value.kind in ("SCRIPT_ERROR", "SANDBOX_VIOLATION")
    assert "reached" not in failed.value.message


def test_a_script_the_coordinator_would_refuse_is_refused_here() -> None:
    with Client(local=True) as client:
        with pytest.raises(InvalidRequest, match="no function `process`"):
            client.submit("def handle(x):\n    return {}\n", "x")
        with pytest.raises(InvalidRequest, match="--wall-time"):
            client.submit(WORDS, "x", wall_time=10**9)
        with pytest.raises(InvalidRequest, match="reducer"):
            client.submit_group(WORDS, ["x"], aggregate=["words=median"])
    with Client(local=True, scan=True) as scanned, pytest.raises(ScriptRejected):
        scanned.submit("import os\n\ndef process(d):\n    os.system(d)\n    return {}\n", "x")


def test_an_idempotent_retry_returns_the_first_job(client: Client) -> None:
    first = client.submit(WORDS, "a b", idempotency_key="retry-1")
    again = client.submit(WORDS, "a b", idempotency_key="retry-1")
    assert again.id == first.id
    assert [status.id for status in client.jobs()] == [first.id]


def test_jobs_are_listed_and_filtered_as_a_coordinator_lists_them(client: Client) -> None:
    good = client.submit(WORDS, "a", name="Nightly words")
    bad = client.submit(SLEEPY, "0:fail", name="broken")
    for job in (good, bad):
        job.wait(timeout=30)
    assert [s.id for s in client.jobs()] == [bad.id, good.id]
    assert [s.id for s in client.jobs(state="FAILED")] == [bad.id]
    assert [s.id for s in client.jobs(name="nightly")] == [good.id]
    with pytest.raises(NotFound):
        client.job("no-such-job")


def test_billing_is_refused_with_a_reason(client: Client) -> None:
    job = client.submit(WORDS, "a")
    job.wait(timeout=30)
    with pytest.raises(RunSurgeError, match="not billed"):
        job.invoice()
    with pytest.raises(RunSurgeError, match="not billed"):
        client.balance()


def test_closing_stops_unfinished_work_and_removes_the_stored_inputs(tmp_path: Path) -> None:
    client = Client(local=True, workers=1)
    assert isinstance(client, LocalClient)
    group = client.submit_group(SLEEPY, ["60", "0"])
    stored = next(Path(p) for p in _stored_folders(client))
    _wait_running(group)
    started = time.monotonic()
    client.close()
    assert time.monotonic() - started < 30  # the 60 s input was killed, not awaited
    assert not stored.exists()
    assert group.status().state == "CANCELLED"
    with pytest.raises(InvalidRequest, match="closed"):
        client.submit(WORDS, "a")


def _wait_running(job: Job) -> None:
    deadline = time.monotonic() + 20
    while job.status().tasks.running == 0:
        assert time.monotonic() < deadline, "no input started"
        time.sleep(0.05)


def _stored_folders(client: LocalClient) -> list[str]:
    root = client._engine._root
    return [str(root / child.name) for child in root.iterdir()]


def test_local_only_options_are_refused_for_a_coordinator() -> None:
    with pytest.raises(TypeError, match="workers"):
        Client("127.0.0.1:1", "token", workers=2)
    with pytest.raises(ValueError, match="no coordinator"):
        Client("127.0.0.1:1", local=True)
    with pytest.raises(TypeError, match="processes"):
        Pool(processes=2)
