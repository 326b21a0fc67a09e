"""TLS through real processes: a coordinator, agents and consumers with `gen-certs` output.

Transport does not depend on the database, so these run on SQLite only.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest

from runsurge.client import Client
from runsurge.errors import CoordinatorUnreachable
from runsurge.tls import ClientTls, channel
from tests.integration.cluster import Cluster, free_port, wait_until
from tests.integration.rpc import code_of, register

SCRIPT = "def process(input_data: str) -> dict:\n    return {'n': len(input_data)}\n"
TOKEN_PATTERN = re.compile(r"rs[a-z]_[A-Za-z0-9_-]{40,}")


def runsurge(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`runsurge ARGS` as a user would run it."""
    return subprocess.run(
        [sys.executable, "-m", "runsurge", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A development CA and its certificates, made by the real command."""
    target = tmp_path_factory.mktemp("certs")
    done = runsurge("admin", "gen-certs", str(target))
    assert done.returncode == 0, done.stderr
    # It says which flag takes which file.
    assert f"--tls-client-ca {target / 'ca.pem'}" in done.stdout
    assert f"--tls-key {target / 'contributor-key.pem'}" in done.stdout
    again = runsurge("admin", "gen-certs", str(target))
    assert again.returncode == 2 and "refusing to overwrite" in again.stderr
    return target


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another CA: nothing of the cluster is signed by it."""
    target = tmp_path_factory.mktemp("other")
    assert runsurge("admin", "gen-certs", str(target)).returncode == 0
    return target / "ca.pem"


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., Cluster]]:
    """Start a cluster on SQLite with the given Cluster options; stopped afterwards."""
    started: list[Cluster] = []

    def make(**options: object) -> Cluster:
        root = tmp_path / f"cluster-{len(started)}"
        root.mkdir()
        cluster = Cluster(root=root, db_url=f"sqlite:///{root / 'db.sqlite3'}", **options)  # type: ignore[arg-type]
        started.append(cluster)
        cluster.start_fresh_coordinator()
        return cluster

    yield make
    for cluster in started:
        cluster.stop()


def test_a_job_runs_end_to_end_over_mutual_tls(start: Callable[..., Cluster], certs: Path) -> None:
    cluster = start(tls_dir=certs, mutual=True)
    assert "(mutual TLS)" in cluster.log("coordinator.log")
    cluster.add_contributor()
    with cluster.client() as client:
        assert client.tls
        assert client.submit(SCRIPT, "abcd").wait(timeout=60).result == {"n": 4}
    # The CLI finds the CA in RUNSURGE_TLS_CA (cluster.env).
    (cluster.root / "script.py").write_text(SCRIPT)
    done = cluster.cli("submit", str(cluster.root / "script.py"), "-", "--wait", stdin=b"xyz")
    assert done.returncode == 0, done.stderr
    assert '"n": 3' in done.stdout


def test_an_agent_without_a_client_certificate_is_refused_and_says_why(
    start: Callable[..., Cluster], certs: Path
) -> None:
    cluster = start(tls_dir=certs, mutual=True)
    # On the main port it gets through TLS, and the coordinator refuses its Register.
    agent = cluster.add_contributor(
        wait=False, via=cluster.address, tls=cluster.contributor_tls(client_cert=False)
    )
    assert agent.wait(30) == 2
    log = cluster.log("contributor-1.log")
    assert "coordinator refused this agent" in log
    assert "needs a client certificate from contributors" in log
    with channel(cluster.address, cluster.client_tls, "test", []) as tls_channel:
        enrolment = (cluster.data_dir / "contributor.token").read_text().strip()
        assert code_of(lambda: register(tls_channel, enrolment)) == grpc.StatusCode.UNAUTHENTICATED
    # On the contributor port the handshake itself needs the certificate; it keeps trying.
    cluster.add_contributor(wait=False, tls=cluster.contributor_tls(client_cert=False))
    wait_until(
        lambda: "may demand a client certificate" in cluster.log("contributor-2.log"),
        30,
        "the agent to say a client certificate may be needed",
    )
    with cluster.client() as client:
        assert [c for c in client.contributors() if c["online"]] == []


def test_a_plaintext_client_against_the_tls_port_is_told_tls_is_needed(
    start: Callable[..., Cluster], certs: Path
) -> None:
    cluster = start(tls_dir=certs)
    began = time.monotonic()
    with (
        Client(cluster.address, cluster.consumer_token) as client,
        pytest.raises(CoordinatorUnreachable, match="probably uses TLS"),
    ):
        client.jobs()
    assert time.monotonic() - began < 10  # an error, not a hang
    env = dict(cluster.env)
    del env["RUNSURGE_TLS_CA"]
    done = cluster.cli("jobs", env=env, timeout=30)
    assert done.returncode == 3
    assert "probably uses TLS" in done.stderr and "tls_ca" in done.stderr
    flagged = cluster.cli("jobs", "--tls-ca", str(certs / "ca.pem"), env=env, timeout=30)
    assert flagged.returncode == 0, flagged.stderr


def test_a_client_that_does_not_trust_the_ca_is_refused(
    start: Callable[..., Cluster], certs: Path, other_ca: Path
) -> None:
    cluster = start(tls_dir=certs)
    with (
        Client(cluster.address, cluster.consumer_token, tls_ca=other_ca) as client,
        pytest.raises(CoordinatorUnreachable, match="not signed by the tls_ca"),
    ):
        client.jobs()
    with Client(cluster.address, cluster.consumer_token, tls_ca=certs / "ca.pem") as client:
        assert client.jobs() == []


def test_a_certificate_that_does_not_name_the_address_dialled_is_refused(
    tmp_path: Path,
) -> None:
    elsewhere = tmp_path / "elsewhere"
    assert runsurge("admin", "gen-certs", str(elsewhere), "--host", "coord.example").returncode == 0
    address = f"127.0.0.1:{free_port()}"
    log_path = tmp_path / "coordinator.log"
    with open(log_path, "wb") as log:
        coordinator = subprocess.Popen(
            [sys.executable, "-m", "runsurge", "coordinator", "--listen", address,
             "--data-dir", str(tmp_path / "d"), "--tls-cert", str(elsewhere / "server.pem"),
             "--tls-key", str(elsewhere / "server-key.pem")],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    try:
        wait_until(lambda: f"listening on {address}" in log_path.read_text(), 30, "the coordinator")
        token = (tmp_path / "d" / "consumer.token").read_text().strip()
        with (
            Client(address, token, tls_ca=elsewhere / "ca.pem") as client,
            pytest.raises(CoordinatorUnreachable, match="does not name the address"),
        ):
            client.jobs()
    finally:
        coordinator.terminate()
        coordinator.wait(15)


def test_plaintext_on_a_network_address_needs_allow_plaintext_and_warns(
    start: Callable[..., Cluster], tmp_path: Path
) -> None:
    listen = f"0.0.0.0:{free_port()}"
    refused = runsurge("coordinator", "--listen", listen, "--data-dir", str(tmp_path / "d"))
    assert refused.returncode == 2
    assert f"refusing to listen in plaintext on {listen}" in refused.stderr
    assert "Traceback" not in refused.stderr
    cluster = start(listen_host="0.0.0.0", coordinator_args=["--allow-plaintext"])
    assert "PLAINTEXT ON A NETWORK ADDRESS" in cluster.log("coordinator.log")
    with cluster.client() as client:
        assert client.jobs() == []


def test_plaintext_on_loopback_needs_no_flag_and_logs_no_warning(
    start: Callable[..., Cluster],
) -> None:
    cluster = start()
    log = cluster.log("coordinator.log")
    assert "(plaintext)" in log and "PLAINTEXT ON A NETWORK ADDRESS" not in log


@pytest.mark.parametrize(
    ("flags", "named", "reason"),
    [
        (["--tls-cert", "{bad}", "--tls-key", "{certs}/server-key.pem"], "{bad}", "no PEM"),
        (["--tls-cert", "{certs}/server.pem", "--tls-key", "{bad}"], "{bad}", "not a PEM"),
        (
            ["--tls-cert", "{certs}/server.pem", "--tls-key", "{certs}/contributor-key.pem"],
            "{certs}/contributor-key.pem",
            "does not belong",
        ),
        (
            ["--tls-cert", "{certs}/server.pem", "--tls-key", "{missing}"],
            "{missing}",
            "cannot read",
        ),
    ],
)
def test_bad_pem_files_stop_the_coordinator_naming_the_file(
    certs: Path, tmp_path: Path, flags: list[str], named: str, reason: str
) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate\n")
    values = {"bad": bad, "certs": certs, "missing": tmp_path / "missing.pem"}
    args = [f.format(**values) for f in flags]
    done = runsurge("coordinator", "--listen", f"127.0.0.1:{free_port()}", "--data-dir",
                    str(tmp_path / "d"), *args)  # fmt: skip
    assert done.returncode == 2
    assert named.format(**values) in done.stderr and reason in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "d").exists()  # stopped before it touched its state


def test_no_token_reaches_any_log_of_a_tls_cluster(
    start: Callable[..., Cluster], certs: Path, other_ca: Path
) -> None:
    cluster = start(tls_dir=certs, mutual=True, coordinator_args=["-v"], contributor_args=["-v"])
    cluster.add_contributor()
    with cluster.client() as client:
        assert client.submit(SCRIPT, "ab").wait(timeout=60).result == {"n": 2}
    # Refused and failed connections are where tokens could leak into messages.
    cluster.add_contributor(
        wait=False, via=cluster.address, tls=cluster.contributor_tls(client_cert=False)
    ).wait(30)
    for tls in (ClientTls(), ClientTls(ca=other_ca)):
        with (
            Client(cluster.address, cluster.consumer_token, tls_ca=tls.ca) as client,
            pytest.raises(CoordinatorUnreachable),
        ):
            client.jobs()
    enrolment = (cluster.data_dir / "contributor.token").read_text().strip()
    time.sleep(0.5)  # let the processes flush
    names = ("coordinator.log", "contributor-1.log", "contributor-2.log")
    logs = {name: (cluster.root / name).read_text(errors="replace") for name in names}
    assert "registered" in logs["coordinator.log"]
    for name, text in logs.items():
        for token in (cluster.consumer_token, enrolment):
            assert token not in text, name
        assert TOKEN_PATTERN.findall(text) == [], name


def test_an_agent_with_a_bad_tls_file_stops_naming_it(certs: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key\n")
    done = runsurge(
        "contributor", "--coordinator", f"127.0.0.1:{free_port()}", "--token", "rsk_x",
        "--work-dir", str(tmp_path / "w"), "--insecure-dev", "--tls-ca", str(certs / "ca.pem"),
        "--tls-cert", str(certs / "contributor.pem"), "--tls-key", str(bad),
    )  # fmt: skip
    assert done.returncode == 2
    assert f"the contributor private key {bad} is not a PEM private key" in done.stderr
    assert "Traceback" not in done.stderr
