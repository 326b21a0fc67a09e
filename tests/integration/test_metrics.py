"""The coordinator's Prometheus endpoint, scraped over HTTP from a real coordinator."""

from __future__ import annotations

import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.integration.cluster import Cluster, free_port, wait_until

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

        cluster.add_contributor()
        assert job.result(timeout=60) == {"lines": 1, "words": 3}

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
