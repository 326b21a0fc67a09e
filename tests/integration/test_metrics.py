"""The coordinator's Prometheus endpoint, scraped over HTTP from a real coordinator."""

from __future__ import annotations

import signal
import time
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.integration.cluster import Cluster, free_port, wait_until
from tests.integration.executions import runs

WORDCOUNT = Path(__file__).resolve().parents[2] / "examples" / "wordcount.py"


def scrape(address: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=5) as reply:
        text = reply.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_show_the_queue_then_the_finished_job(cluster_factory: type[Cluster]) -> None:
    metrics_address = f"127.0.0.1:{free_port()}"
    cluster = cluster_factory(
        coordinator_env={"RUNSURGE_COORDINATOR_METRICS_LISTEN": metrics_address}
    )
    with cluster.client() as client:
        job = client.submit(WORDCOUNT, "no contributor yet")
        queued = scrape(metrics_address)
        assert queued[("runsurge_queue_depth", ())] == 1
        assert queued[("runsurge_jobs", (("state", "QUEUED"),))] == 1
        assert queued[("runsurge_contributors", (("state", "ONLINE"),))] == 0

        queued_at = time.monotonic()
        cluster.add_contributor()
        assert job.result(timeout=60) == {"lines": 1, "words": 3}
        waited = time.monotonic() - queued_at

    def settled() -> bool:
        now = scrape(metrics_address)
        return now[("runsurge_jobs", (("state", "SUCCEEDED"),))] == 1

    wait_until(settled, 10, "the metrics to show the finished job")
    done = scrape(metrics_address)
    assert done[("runsurge_queue_depth", ())] == 0
    assert done[("runsurge_tasks", (("state", "SUCCEEDED"),))] == 1
    assert done[("runsurge_contributors", (("state", "ONLINE"),))] == 1
    assert done[("runsurge_attempts_running", ())] == 0
    assert 0 <= done[("runsurge_heartbeat_lag_seconds", ())] < 10
    assert done[("runsurge_attempt_reports_total", (("outcome", "OK"),))] == 1
    assert done[("runsurge_attempt_duration_seconds_count", ())] == 1
    # The task started from a static prior; its peak is now measured against it.
    assert done[("runsurge_estimate_tasks", (("method", "static"),))] == 1
    assert 0 <= done[("runsurge_estimate_coverage_ratio", (("method", "static"),))] <= 1
    assert done[("runsurge_estimate_over_peak_median", (("method", "static"),))] > 0
    # It waited in the queue for the contributor to start: the latency shows it.
    assert queued[("runsurge_dispatch_latency_seconds_count", ())] == 0
    assert done[("runsurge_dispatch_latency_seconds_count", ())] == 1
    assert 0.2 < done[("runsurge_dispatch_latency_seconds_sum", ())] < waited + 1


def test_metrics_count_reports_by_outcome(cluster_factory: type[Cluster]) -> None:
    metrics_address = f"127.0.0.1:{free_port()}"
    cluster = cluster_factory(
        coordinator_env={"RUNSURGE_COORDINATOR_METRICS_LISTEN": metrics_address}
    )
    cluster.add_contributor()
    failing = "def process(input_data: str) -> dict:\n    raise ValueError('bad row')\n"
    with cluster.client() as client:
        ok = client.submit(WORDCOUNT, "a b")
        bad = client.submit(failing, "x")
        assert ok.result(timeout=60) == {"lines": 1, "words": 2}
        bad.wait(timeout=60)
    metrics = scrape(metrics_address)
    assert metrics[("runsurge_attempt_reports_total", (("outcome", "OK"),))] == 1
    assert metrics[("runsurge_attempt_reports_total", (("outcome", "SCRIPT_ERROR"),))] == 1
    assert metrics[("runsurge_attempt_duration_seconds_count", ())] == 2
    assert metrics[("runsurge_tasks", (("state", "FAILED"),))] == 1


SLEEPER = "import time\ndef process(s):\n    time.sleep(float(s))\n    return {'slept': float(s)}\n"


def test_metrics_count_the_requeue_and_rerun_of_a_killed_contributors_task(
    cluster_factory: type[Cluster],
) -> None:
    metrics_address = f"127.0.0.1:{free_port()}"
    cluster = cluster_factory(
        coordinator_env={"RUNSURGE_COORDINATOR_METRICS_LISTEN": metrics_address}
    )
    doomed = cluster.add_contributor()
    with cluster.client() as client:
        job = client.submit(SLEEPER, "2")
        wait_until(lambda: runs(cluster, job.id)[0] == 1, 30, "the task to start")
        gap = ("runsurge_heartbeat_gap_seconds_count", ())
        # A gap needs two heartbeats on one stream; the task may start before them.
        wait_until(lambda: scrape(metrics_address).get(gap, 0) > 0, 10, "a first heartbeat gap")
        before = scrape(metrics_address)
        cluster.add_contributor()
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(10)
        assert job.result(timeout=60) == {"slept": 2.0}
    after = scrape(metrics_address)
    assert runs(cluster, job.id) == {0: 2}  # the killed agent's run, and the rerun
    assert before[("runsurge_task_reruns_total", ())] == 0
    assert after[("runsurge_task_reruns_total", ())] == 1
    assert before[("runsurge_task_requeues_total", ())] == 0
    assert after[("runsurge_task_requeues_total", ())] == 1
    assert after[("runsurge_attempts_lost_total", (("why", "lease"),))] == 1
    # Two claims, each at once: the first on submission, the rerun on the requeue
    # (latency counts from the requeue; the lease the loss took is not queueing).
    assert before[("runsurge_dispatch_latency_seconds_count", ())] == 1
    assert after[("runsurge_dispatch_latency_seconds_count", ())] == 2
    assert after[("runsurge_dispatch_latency_seconds_sum", ())] < 1.5
    # Heartbeats every 0.3 s: their gaps are counted, and near the interval.
    gaps = after[("runsurge_heartbeat_gap_seconds_count", ())]
    assert gaps > before[("runsurge_heartbeat_gap_seconds_count", ())] > 0
    assert 0.1 < after[("runsurge_heartbeat_gap_seconds_sum", ())] / gaps < 1.0
    assert after[("runsurge_attempt_duration_seconds_count", ())] == 1
