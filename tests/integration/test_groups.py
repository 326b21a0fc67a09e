"""Grouped jobs: fan-out, built-in and custom aggregation, failure policies, cancellation."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from runsurge.errors import InvalidRequest, JobFailed
from tests.integration.cluster import Cluster, wait_until
from tests.integration.executions import assert_each_ran_once

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
WORDCOUNT = EXAMPLES / "wordcount.py"

STATS = """
def process(input_data: str) -> dict:
    words = input_data.split()
    counts = {}
    for word in words:
        counts[word] = counts.get(word, 0) + 1
    return {
        "words": len(words),
        "longest": max(words, key=len) if words else "",
        "first": words[0] if words else None,
        "counts": counts,
        "lengths": [len(w) for w in words],
        "even": len(words) % 2 == 0,
    }
"""

CUSTOM = """
def process(input_data: str) -> dict:
    return {"n": int(input_data)}

def aggregate(results: list[dict]) -> dict:
    values = [r["n"] for r in results]
    return {"total": sum(values), "inputs": len(values), "ordered": values[:5]}
"""

FLAKY = """
def process(input_data: str) -> dict:
    n = int(input_data)
    if n % 10 == 3:
        raise ValueError(f"unlucky {n}")
    return {"n": n}
"""


def _texts(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    vocabulary = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]
    return [
        "\n".join(" ".join(rng.choices(vocabulary, k=rng.randint(0, 8))) for _ in range(3))
        for _ in range(count)
    ]


def test_thousand_inputs_fan_out_and_sum_like_the_local_loop(cluster_factory) -> None:  # type: ignore[no-untyped-def]
    cluster: Cluster = cluster_factory()
    cluster.add_contributor(cores=1)
    cluster.add_contributor(cores=1)
    texts = _texts(1000)
    expected_words = sum(len(t.split()) for t in texts)
    expected_lines = sum(len(t.splitlines()) for t in texts)
    with cluster.client() as client:
        job = client.submit_group(
            WORDCOUNT, (t for t in texts), aggregate=["words=sum", "lines=sum"]
        )
        assert job.result(timeout=300) == {"words": expected_words, "lines": expected_lines}
        status = job.status()
        assert (status.kind, status.state) == ("group", "SUCCEEDED")
        assert status.tasks.total == status.tasks.succeeded == 1000
        per_input = list(job.results())
    assert [r.index for r in per_input] == list(range(1000))
    assert per_input[17].result == {
        "lines": len(texts[17].splitlines()),
        "words": len(texts[17].split()),
    }


def test_every_builtin_reducer(cluster: Cluster) -> None:
    texts = ["b a b", "c", "", "a a a a"]
    specs = [
        "words=sum",
        "words=mean",
        "words=min",
        "words=max",
        "first=count",
        "lengths=concat",
        "counts=merge_counts",
        "even=histogram",
        "longest=collect",
    ]
    with cluster.client() as client:
        result = client.submit_group(STATS, texts, aggregate=specs).result(timeout=120)
    assert result == {
        "words.sum": 8,
        "words.mean": 2.0,
        "words.min": 0,
        "words.max": 4,
        "first": 3,
        "lengths": [1, 1, 1, 1, 1, 1, 1, 1],
        "counts": {"a": 5, "b": 2, "c": 1},
        "even": {"false": 2, "true": 2},
        "longest": ["b", "c", "", "a"],
    }


def test_custom_aggregate_runs_in_the_sandbox_over_results_in_input_order(cluster: Cluster) -> None:
    with cluster.client() as client:
        job = client.submit_group(CUSTOM, [str(n) for n in range(50)], aggregate="script")
        assert job.result(timeout=120) == {
            "total": sum(range(50)),
            "inputs": 50,
            "ordered": [0, 1, 2, 3, 4],
        }
        assert job.status().tasks.total == 50  # the aggregate task is not an input


def test_an_aggregate_too_large_to_inline_is_fetched_whole(cluster: Cluster) -> None:
    script = "def process(input_data: str) -> dict:\n    return {'s': input_data}\n"
    inputs = ["x" * 40_000, "y" * 40_000]  # collected, larger than the inline limit
    with cluster.client() as client:
        job = client.submit_group(script, inputs, aggregate=["s=collect"])
        assert job.result(timeout=120) == {"s": inputs}


@pytest.mark.database_independent
def test_custom_aggregate_must_be_defined(cluster: Cluster) -> None:
    with cluster.client() as client, pytest.raises(InvalidRequest, match="no function `aggregate`"):
        client.submit_group(WORDCOUNT, ["a"], aggregate="script")


def test_on_error_continue_aggregates_the_successes_and_reports_each_failure(
    cluster: Cluster,
) -> None:
    with cluster.client() as client:
        job = client.submit_group(
            FLAKY, [str(n) for n in range(30)], aggregate=["n=sum", "*=count"]
        )
        result = job.result(timeout=120)
        status = job.status()
        failures = [r for r in job.results() if not r.ok]
    ok = [n for n in range(30) if n % 10 != 3]
    assert result == {"n": sum(ok), "count": len(ok)}
    assert (status.state, status.tasks.failed, status.tasks.succeeded) == ("SUCCEEDED", 3, 27)
    assert [f.index for f in failures] == [3, 13, 23]
    assert failures[0].error is not None
    assert (failures[0].error.type, failures[0].error.message) == ("ValueError", "unlucky 3")


def test_on_error_fail_fast_cancels_the_rest(cluster: Cluster) -> None:
    script = FLAKY.replace(
        "n = int(input_data)", "n = int(input_data)\n    import time; time.sleep(0.05)"
    )
    with cluster.client() as client:
        job = client.submit_group(
            script, [str(n) for n in range(200)], aggregate=["n=sum"], on_error="fail-fast"
        )
        status = job.wait(timeout=120)
        with pytest.raises(JobFailed, match="input 3 failed"):
            job.result()
    assert status.state == "FAILED"
    assert status.error is not None and status.error.kind == "FAIL_FAST"
    assert status.tasks.failed == 1
    assert status.tasks.cancelled > 100
    assert status.tasks.succeeded + status.tasks.failed + status.tasks.cancelled == 200


def test_every_input_failing_fails_the_group(cluster: Cluster) -> None:
    with cluster.client() as client:
        status = client.submit_group(FLAKY, ["3", "13"], aggregate=["n=sum"]).wait(timeout=60)
    assert status.state == "FAILED"
    assert status.error is not None and status.error.kind == "ALL_FAILED"


def test_reducer_type_errors_fail_the_group_with_the_input_named(cluster: Cluster) -> None:
    script = "def process(s):\n    return {'v': s if s == 'x' else int(s)}\n"
    with cluster.client() as client:
        status = client.submit_group(script, ["1", "2", "x"], aggregate=["v=sum"]).wait(timeout=60)
    assert status.state == "FAILED"
    assert status.error is not None and status.error.kind == "AGGREGATION"
    assert "input 2 has str" in status.error.message


def test_a_poisoned_group_fails_alone_telling_its_consumer_and_others_aggregate(
    cluster: Cluster,
) -> None:
    # mean over an integer too large for a float breaks the reducer itself
    # (OverflowError, not a type error it checks for).
    poison = "def process(s):\n    return {'n': 10 ** 400 if s == 'p' else int(s)}\n"
    numbers = "def process(s):\n    return {'n': int(s)}\n"
    with cluster.client() as client:
        poisoned = client.submit_group(poison, ["1", "p"], aggregate=["n=mean"])
        healthy = client.submit_group(numbers, ["2", "3"], aggregate=["n=sum"])
        assert healthy.result(timeout=60) == {"n": 5}
        with pytest.raises(JobFailed, match="OverflowError"):
            poisoned.result(timeout=60)
        status = poisoned.status()
        assert status.error is not None and status.error.kind == "AGGREGATION"
        assert client.submit_group(numbers, ["4"], aggregate=["n=sum"]).result(timeout=60) == {
            "n": 4
        }
    shown = cluster.cli("status", poisoned.id)
    assert "FAILED" in shown.stdout
    assert "AGGREGATION" in shown.stderr and "OverflowError" in shown.stderr
    # Counted: the poisoned fan-in failing reran none of its inputs, nor the others'.
    assert_each_ran_once(cluster, poisoned.id, 2)
    assert_each_ran_once(cluster, healthy.id, 2)


def test_cancel_mid_group_stops_queued_and_running_tasks(cluster: Cluster) -> None:
    script = "import time\ndef process(s):\n    time.sleep(0.2)\n    return {'s': s}\n"
    with cluster.client() as client:
        job = client.submit_group(script, [str(n) for n in range(100)], aggregate=["s=collect"])
        wait_until(lambda: job.status().tasks.succeeded >= 2, 60, "some inputs to finish")
        cancelled = job.cancel()
        assert cancelled.state == "CANCELLED"
        final = job.status()
        assert final.tasks.running == 0 and final.tasks.queued == 0
        assert final.tasks.cancelled >= 90
        # The contributor is free again at once.
        assert client.submit(WORDCOUNT, "x y").result(timeout=30) == {"lines": 1, "words": 2}


def test_group_waits_for_a_contributor_that_joins_later(cluster_factory) -> None:  # type: ignore[no-untyped-def]
    cluster: Cluster = cluster_factory()
    with cluster.client() as client:
        job = client.submit_group(WORDCOUNT, ["a b", "c"], aggregate={"words": "sum"})
        assert job.status().state == "QUEUED"
        cluster.add_contributor()
        assert job.result(timeout=60) == {"words": 3}


def test_identical_inputs_are_stored_once(cluster: Cluster) -> None:
    with cluster.client() as client:
        job = client.submit_group(WORDCOUNT, ["same input"] * 20, aggregate=["words=sum"])
        assert job.result(timeout=60) == {"words": 40}
    blobs = [
        p for p in (cluster.data_dir / "blobs").rglob("*") if p.is_file() and p.parent.name != "tmp"
    ]
    contents = [p.read_bytes() for p in blobs]
    assert contents.count(b"same input") == 1


def test_group_without_aggregate_lists_results(cluster: Cluster) -> None:
    with cluster.client() as client:
        job = client.submit_group(WORDCOUNT, ["a", "b c"])
        job.wait(timeout=60)
        with pytest.raises(Exception, match="declared no aggregate"):
            job.result()
        assert [r.result for r in job.results()] == [
            {"lines": 1, "words": 1},
            {"lines": 1, "words": 2},
        ]


@pytest.mark.database_independent
def test_bad_aggregate_specs_are_refused_before_upload(cluster: Cluster) -> None:
    with cluster.client() as client:
        with pytest.raises(InvalidRequest, match="unknown reducer 'median'"):
            client.submit_group(WORDCOUNT, ["a"], aggregate=["words=median"])
        assert client.jobs() == []


def test_group_survives_a_coordinator_restart_without_losing_or_repeating(
    cluster: Cluster,
) -> None:
    script = "import time\ndef process(s):\n    time.sleep(0.05)\n    return {'n': int(s)}\n"
    with cluster.client() as client:
        job = client.submit_group(script, [str(n) for n in range(60)], aggregate=["n=collect"])
        wait_until(lambda: job.status().tasks.succeeded >= 5, 60, "progress")
    cluster.stop_coordinator()
    cluster.start_coordinator()
    with cluster.client() as client:
        job = client.job(job.id)
        assert job.result(timeout=120) == {"n": list(range(60))}
        assert job.status().tasks.succeeded == 60
        assert json.dumps([r.index for r in job.results()]) == json.dumps(list(range(60)))
    assert_each_ran_once(cluster, job.id, 60)  # "without repeating": runs are counted


def test_a_single_job_behind_a_big_group_starts_at_the_next_free_slot(cluster: Cluster) -> None:
    slow = "import time\ndef process(s):\n    time.sleep(0.1)\n    return {'s': s}\n"
    with cluster.client() as client:
        group = client.submit_group(slow, [str(n) for n in range(300)], aggregate=["s=count"])
        wait_until(lambda: group.status().tasks.succeeded >= 2, 60, "the group to start")
        single = client.submit(WORDCOUNT, "jumps the queue")
        assert single.result(timeout=30) == {"lines": 1, "words": 3}
        # The group had barely started: the single job did not wait behind it.
        assert group.status().tasks.queued > 200
        group.cancel()
