"""The CLI against a real cluster: exit codes, human output and the stable --json forms."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.cluster import Cluster, free_port

# SQLite only: what it checks is the CLI's output and exit codes;
# the storage it touches is tested on both databases.
pytestmark = pytest.mark.database_independent

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_submit_wait_prints_the_result(cluster: Cluster) -> None:
    run = cluster.cli(
        "submit", str(EXAMPLES / "wordcount.py"), str(EXAMPLES / "input.txt"), "--wait"
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"lines": 3, "words": 17}


def test_json_outputs_are_stable(cluster: Cluster) -> None:
    run = cluster.cli(
        "submit", str(EXAMPLES / "wordcount.py"), "-", "--wait", "--json", stdin=b"a b\n"
    )
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    job = doc["job"]
    assert set(job) == {
        "id",
        "kind",
        "state",
        "name",
        "script_sha256",
        "tasks",
        "created_at",
        "finished_at",
        "error",
        "result",
        "aggregate",
        "aggregate_script",
        "on_error",
        "waiting_reason",
        "memory_limit_bytes",
        "wall_seconds",
        "cpu_seconds",
        "max_attempts",
        "priority",
        "labels",
        "idempotency_key",
    }
    assert job["state"] == "SUCCEEDED" and job["result"] == {"lines": 1, "words": 2}
    assert job["tasks"] == {
        "total": 1,
        "queued": 0,
        "running": 0,
        "succeeded": 1,
        "failed": 0,
        "cancelled": 0,
    }
    status = json.loads(cluster.cli("status", job["id"], "--json").stdout)["job"]
    assert status["id"] == job["id"] and status["state"] == "SUCCEEDED"
    result = cluster.cli("result", job["id"], "--json")
    assert json.loads(result.stdout)["job"]["result"] == {"lines": 1, "words": 2}
    listed = json.loads(cluster.cli("jobs", "--json").stdout)["jobs"]
    assert [j["id"] for j in listed] == [job["id"]]
    none_running = json.loads(cluster.cli("jobs", "--state", "running", "--json").stdout)
    assert none_running["jobs"] == []
    table = cluster.cli("jobs", "--state", "SUCCEEDED")
    assert job["id"] in table.stdout and "SUCCEEDED" in table.stdout and "1/1" in table.stdout
    unknown = cluster.cli("jobs", "--state", "DONE")
    assert unknown.returncode == 2 and "unknown job state 'DONE'" in unknown.stderr
    contributors = json.loads(cluster.cli("contributors", "--json").stdout)["contributors"]
    assert len(contributors) == 1 and contributors[0]["online"] is True
    assert contributors[0]["isolation_level"]


def test_failed_job_exits_1_with_the_traceback(cluster: Cluster, tmp_path: Path) -> None:
    script = tmp_path / "bad.py"
    script.write_text("def process(s):\n    raise KeyError('missing')\n")
    run = cluster.cli("submit", str(script), str(EXAMPLES / "input.txt"), "--wait")
    assert run.returncode == 1
    assert "SCRIPT_ERROR: KeyError" in run.stderr
    assert "line 2, in process" in run.stderr
    assert "Traceback (most recent call last)" in run.stderr


def test_bad_script_exits_2_without_a_python_traceback(cluster: Cluster, tmp_path: Path) -> None:
    script = tmp_path / "syntax.py"
    script.write_text("def process(s)\n    return {}\n")
    run = cluster.cli("submit", str(script), str(EXAMPLES / "input.txt"))
    assert run.returncode == 2
    assert "syntax error at line 1" in run.stderr
    assert "Traceback" not in run.stderr


def test_unknown_job_exits_4(cluster: Cluster) -> None:
    run = cluster.cli("status", "0123456789abcdef")
    assert run.returncode == 4
    assert "no job with id" in run.stderr


def test_cancel_command(cluster: Cluster, tmp_path: Path) -> None:
    script = tmp_path / "slow.py"
    script.write_text("import time\ndef process(s):\n    time.sleep(60)\n    return {}\n")
    submitted = cluster.cli("submit", str(script), str(EXAMPLES / "input.txt"), "--json")
    job_id = json.loads(submitted.stdout)["job"]["id"]
    run = cluster.cli("cancel", job_id, "--json")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["job"]["state"] == "CANCELLED"


def test_unreachable_coordinator_exits_3_with_a_hint(cluster: Cluster) -> None:
    run = cluster.cli("jobs", "--coordinator", f"127.0.0.1:{free_port()}")
    assert run.returncode == 3
    assert "is it running?" in run.stderr
    assert "Traceback" not in run.stderr


def test_coordinator_on_a_taken_port_says_so(tmp_path: Path) -> None:
    import socket
    import subprocess
    import sys

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = subprocess.run(
            [sys.executable, "-m", "runsurge", "coordinator", "--listen", f"127.0.0.1:{port}",
             "--data-dir", str(tmp_path / "data")],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert run.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}: the address is in use" in run.stderr
    assert "Traceback" not in run.stderr


def test_second_coordinator_on_a_running_coordinators_port_is_refused(
    cluster: Cluster, tmp_path: Path
) -> None:
    """gRPC's default SO_REUSEPORT would let both bind and split the clients between them."""
    import subprocess
    import sys

    run = subprocess.run(
        [sys.executable, "-m", "runsurge", "coordinator", "--listen", cluster.address,
         "--data-dir", str(tmp_path / "second")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 2, run.stderr
    assert f"cannot listen on {cluster.address}: the address is in use" in run.stderr
    with cluster.client() as client:
        client.contributors()  # the first one still serves


LOUD = """
import sys


def process(input_data):
    print("to stdout:", input_data)
    print("to stderr: careful", file=sys.stderr)
    return {"ok": True}
"""


def _stranger(cluster: Cluster) -> str:
    """A second consumer's token, added to the coordinator's database."""
    from runsurge.coordinator.auth import new_id, new_token, token_hash
    from runsurge.store.database import Database, sqlite_url
    from runsurge.store.models import Consumer

    token = new_token("rsc")
    db = Database(cluster.db_url or sqlite_url(cluster.data_dir))
    try:
        db.call(
            lambda s: s.add(Consumer(id=new_id(), name="stranger", token_sha256=token_hash(token)))
        )
    finally:
        db.close()
    return token


def test_logs_return_a_tasks_stdout_and_stderr_to_its_owner_only(cluster: Cluster) -> None:
    from runsurge.client import Client
    from runsurge.errors import NotFound

    with cluster.client() as client:
        job = client.submit_group(LOUD, ["first", "second"])
        job.wait(timeout=60)
        logs = job.logs(1)
        assert "to stdout: second" in logs and "to stderr: careful" in logs
        assert not logs.truncated and logs.state == "SUCCEEDED"
        assert "to stdout: first" in job.logs()
        with pytest.raises(NotFound):
            job.logs(5)

    shown = cluster.cli("logs", job.id, "--task", "1")
    assert shown.returncode == 0
    assert "to stdout: second" in shown.stdout and "to stderr: careful" in shown.stdout
    assert cluster.cli("logs", job.id, "--task", "2").returncode == 4
    assert cluster.cli("logs", "0123456789abcdef").returncode == 4

    stranger = _stranger(cluster)
    with Client(cluster.address, stranger) as other, pytest.raises(NotFound):
        other.job(job.id).logs(0)
    env = dict(cluster.env, RUNSURGE_TOKEN=stranger)
    refused = cluster.cli("logs", job.id, env=env)
    assert refused.returncode == 4 and "to stdout" not in refused.stdout
