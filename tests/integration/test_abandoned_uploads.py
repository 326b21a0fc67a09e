"""A submission whose client vanished mid-upload is reaped after the submission timeout,
and the coordinator goes on serving everyone else."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from runsurge.client import Client, Job
from tests.integration.cluster import Cluster, wait_until

TIMEOUT_VARIABLE = "RUNSURGE_COORDINATOR_SUBMISSION_TIMEOUT_SECONDS"
SCRIPT = "def process(s):\n    return {'n': len(s)}\n"
# A consumer whose upload stops after a few inputs; the test kills it there.
UPLOADER = f"""
import sys, time
from runsurge.client import Client

def inputs():
    for n in range(3):
        yield f"input {{n}}"
    print("STREAMING", flush=True)
    while True:
        time.sleep(3600)
        yield "never sent"

with Client(sys.argv[1], sys.argv[2]) as client:
    client.submit_group({SCRIPT!r}, inputs(), name="abandoned")
"""


def _start_uploader(cluster: Cluster, root: Path) -> subprocess.Popen[str]:
    script = root / "uploader.py"
    script.write_text(UPLOADER)
    proc = subprocess.Popen(
        [sys.executable, str(script), cluster.address, cluster.consumer_token],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == "STREAMING", line + proc.stdout.read()
    return proc


def _abandoned(cluster: Cluster, client: Client) -> Job:
    def listed() -> list[str]:
        return [j.id for j in client.jobs() if j.name == "abandoned"]

    wait_until(lambda: bool(listed()), 30, "the upload to open its job")
    [job_id] = listed()
    job = client.job(job_id)
    assert job.status().state == "SUBMITTING"
    return job


def _reaped(job: Job) -> None:
    wait_until(lambda: job.status().state == "FAILED", 30, "the abandoned upload to be reaped")
    status = job.status()
    assert status.error is not None and status.error.kind == "SUBMISSION"
    assert "upload never finished" in status.error.message, status.error.message


def test_an_upload_whose_client_stopped_mid_stream_is_reaped_and_others_run(
    cluster_factory,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    # SIGSTOP keeps the client's connection open with nothing on it, as a client on a
    # host that died (or lost its network) leaves it: the stream never ends.
    cluster = cluster_factory(coordinator_env={TIMEOUT_VARIABLE: "2"})
    cluster.add_contributor()
    uploader = _start_uploader(cluster, tmp_path)
    try:
        with cluster.client() as client:
            job = _abandoned(cluster, client)
            uploader.send_signal(signal.SIGSTOP)
            _reaped(job)
            assert client.submit(SCRIPT, "abc").result(timeout=60) == {"n": 3}
    finally:
        uploader.send_signal(signal.SIGKILL)
        uploader.wait(10)


def test_a_client_killed_mid_upload_fails_its_job_as_an_unfinished_upload(
    cluster_factory,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    cluster = cluster_factory(coordinator_env={TIMEOUT_VARIABLE: "2"})
    cluster.add_contributor()
    uploader = _start_uploader(cluster, tmp_path)
    with cluster.client() as client:
        job = _abandoned(cluster, client)
        uploader.send_signal(signal.SIGKILL)
        uploader.wait(10)
        _reaped(job)
        assert client.submit(SCRIPT, "abc").result(timeout=60) == {"n": 3}


def test_an_upload_cut_by_a_coordinator_restart_is_reaped_after_it(
    cluster_factory,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    cluster = cluster_factory(coordinator_env={TIMEOUT_VARIABLE: "2"})
    uploader = _start_uploader(cluster, tmp_path)
    with cluster.client() as client:
        job_id = _abandoned(cluster, client).id
    cluster.stop_coordinator(signal.SIGKILL)  # the stream dies with the coordinator
    uploader.send_signal(signal.SIGKILL)
    uploader.wait(10)
    cluster.start_coordinator()
    cluster.add_contributor()
    with cluster.client() as client:
        _reaped(client.job(job_id))
        assert client.submit(SCRIPT, "abc").result(timeout=60) == {"n": 3}
