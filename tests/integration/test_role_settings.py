"""Every role takes its settings from flags, then RUNSURGE_… variables, then (client) the
config file, then defaults: checked on real processes, each setting where it shows."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import grpc
import pytest
import sqlalchemy as sa
from grpc_health.v1 import health_pb2, health_pb2_grpc

from runsurge.config import write_client_config
from runsurge.proto.v1 import contributor_pb2, contributor_pb2_grpc
from tests.integration.cluster import Cluster, free_port

# SQLite only: what it checks is where each role's settings come from;
# the storage it touches is tested on both databases.
pytestmark = pytest.mark.database_independent


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
WORDCOUNT = str(EXAMPLES / "wordcount.py")
INPUT = str(EXAMPLES / "input.txt")
MiB = 1024 * 1024


def _register_probe(cluster: Cluster) -> contributor_pb2.RegisterResponse:
    """Register a contributor by hand, to read what the coordinator tells agents."""
    token = (cluster.data_dir / "contributor.token").read_text().strip()
    with grpc.insecure_channel(cluster.address) as channel:
        return contributor_pb2_grpc.ContributorServiceStub(channel).Register(
            contributor_pb2.RegisterRequest(name="probe", cores=1, memory_bytes=MiB),
            metadata=(("authorization", f"Bearer {token}"),),
            timeout=10,
        )


def _serves(address: str) -> bool:
    with grpc.insecure_channel(address) as channel:
        try:
            health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
        except grpc.RpcError:
            return False
    return True


def _contributor_names(db_url: str) -> set[str]:
    """The contributors recorded in the database at `db_url` (read directly)."""
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            return set(conn.execute(sa.text("SELECT name FROM contributors")).scalars())
    finally:
        engine.dispose()


def _client_env(cluster: Cluster, home: Path, **overrides: str) -> dict[str, str]:
    env = {
        k: v for k, v in cluster.env.items() if k not in ("RUNSURGE_COORDINATOR", "RUNSURGE_TOKEN")
    }
    return env | {"RUNSURGE_HOME": str(home)} | overrides


def test_a_cluster_configured_only_by_environment_runs_a_job(
    cluster_factory: type[Cluster], db_url: str
) -> None:
    cluster = cluster_factory(configure_by="env", lease_seconds=7.5, heartbeat_seconds=0.4)
    cluster.add_contributor(cores=1, memory="768MiB")  # RUNSURGE_CONTRIBUTOR_MEMORY_BYTES=768MiB
    with cluster.client() as client:
        (agent,) = client.contributors()
    # The agent: coordinator, token, name, cores, memory and work dir from its environment.
    assert (agent["name"], agent["cores"], agent["memory_bytes"]) == ("test-1", 1, 768 * MiB)
    assert (cluster.root / "contributor-1").is_dir()
    # The coordinator: listen and data dir (it answered there and wrote its tokens there),
    # lease and heartbeat (what it tells agents), and the database it writes to.
    reply = _register_probe(cluster)
    assert (reply.lease_seconds, reply.heartbeat_interval_seconds) == (7.5, 0.4)
    assert _contributor_names(db_url) == {"test-1", "probe"}
    # The client: RUNSURGE_COORDINATOR and RUNSURGE_TOKEN (cluster.env), no flags.
    run = cluster.cli("submit", WORDCOUNT, INPUT, "--wait")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"lines": 3, "words": 17}


def test_flags_win_over_the_environment(cluster_factory: type[Cluster], tmp_path: Path) -> None:
    decoy = f"127.0.0.1:{free_port()}"
    cluster = cluster_factory(
        coordinator_env={
            "RUNSURGE_COORDINATOR_LISTEN": decoy,
            "RUNSURGE_COORDINATOR_DATA_DIR": str(tmp_path / "decoy-data"),
            "RUNSURGE_COORDINATOR_LEASE_SECONDS": "99",
        },
        contributor_env={
            "RUNSURGE_CONTRIBUTOR_COORDINATOR": decoy,
            "RUNSURGE_CONTRIBUTOR_NAME": "from-env",
            "RUNSURGE_CONTRIBUTOR_MEMORY_BYTES": "300MiB",
        },
    )
    cluster.add_contributor(memory="512MiB")
    assert not _serves(decoy)
    assert not (tmp_path / "decoy-data").exists()
    assert _register_probe(cluster).lease_seconds == cluster.lease_seconds
    with cluster.client() as client:
        agent = next(c for c in client.contributors() if c["online"])
    assert (agent["name"], agent["memory_bytes"]) == ("test-1", 512 * MiB)


def test_client_takes_the_flag_then_the_environment_then_the_config_file(
    cluster: Cluster, tmp_path: Path
) -> None:
    dead = f"127.0.0.1:{free_port()}"
    home = tmp_path / "client-home"
    write_client_config(home / "client.json", cluster.address, cluster.consumer_token)
    assert cluster.cli("jobs", env=_client_env(cluster, home)).returncode == 0
    env_wins = cluster.cli("jobs", env=_client_env(cluster, home, RUNSURGE_COORDINATOR=dead))
    assert env_wins.returncode == 3 and dead in env_wins.stderr
    flag_wins = cluster.cli(
        "jobs", "--coordinator", cluster.address,
        env=_client_env(cluster, home, RUNSURGE_COORDINATOR=dead),
    )  # fmt: skip
    assert flag_wins.returncode == 0, flag_wins.stderr
    elsewhere = tmp_path / "elsewhere.json"
    (home / "client.json").rename(elsewhere)
    assert cluster.cli("jobs", env=_client_env(cluster, home)).returncode == 2  # none configured
    by_path = cluster.cli("jobs", env=_client_env(cluster, home, RUNSURGE_CONFIG=str(elsewhere)))
    assert by_path.returncode == 0, by_path.stderr


@pytest.mark.parametrize("billing_enforced", [False, True])
def test_up_passes_the_environment_on_and_later_commands_use_its_config(
    tmp_path: Path, db_url: str, billing_enforced: bool
) -> None:
    """With billing enforced, `up` credits its local consumer, so the demo still runs."""
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNSURGE_")}
    env |= {"RUNSURGE_HOME": str(home), "RUNSURGE_COORDINATOR_DB_URL": db_url, "COLUMNS": "200"}
    if billing_enforced:
        env["RUNSURGE_COORDINATOR_BILLING_ENFORCED"] = "true"
    with open(tmp_path / "up.log", "wb") as log:
        up = subprocess.Popen(
            [sys.executable, "-m", "runsurge", "up", "--contributors", "1", "--port", "0",
             "--memory", "512MiB"],
            stdout=subprocess.PIPE, stderr=log, env=env,
        )  # fmt: skip
    try:
        assert up.stdout is not None
        ready = up.stdout.readline().decode()
        assert ready.startswith("READY "), (tmp_path / "up.log").read_text()
        # No RUNSURGE_COORDINATOR: the config file `up` wrote finds the coordinator.
        run = subprocess.run(
            [sys.executable, "-m", "runsurge", "submit", WORDCOUNT, INPUT, "--wait"],
            capture_output=True, text=True, env=env, timeout=60,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout) == {"lines": 3, "words": 17}
        # `up` gives no --db, so RUNSURGE_COORDINATOR_DB_URL reached its coordinator.
        assert _contributor_names(db_url) == {"local-1"}
        shown = subprocess.run(
            [sys.executable, "-m", "runsurge", "balance", "--json"],
            capture_output=True, text=True, env=env, timeout=60,
        )  # fmt: skip
        balance = json.loads(shown.stdout)["balance"]
        if billing_enforced:
            assert 999 < Decimal(balance["balance"]) <= 1000  # credited 1000, one job charged
        else:
            assert balance["limit"] is None and Decimal(balance["balance"]) <= 0
    finally:
        up.send_signal(signal.SIGTERM)
        up.wait(60)
