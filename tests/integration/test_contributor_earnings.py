"""`runsurge earnings`: a contributor reads its own earnings with its identity file."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from tests.integration.cluster import Cluster

# The ledger and its earnings view are tested on both databases (test_billing).
pytestmark = pytest.mark.database_independent

SLEEPER = "import time\ndef process(s):\n    time.sleep(0.5)\n    return {'ok': True}\n"


def _earnings(cluster: Cluster, work_dir: Path, *extra: str) -> tuple[int, str, str]:
    run = cluster.cli(
        "earnings",
        "--coordinator",
        cluster.address,
        "--token-file",
        str(cluster.data_dir / "contributor.token"),
        "--work-dir",
        str(work_dir),
        *extra,
    )
    return run.returncode, run.stdout, run.stderr


def test_a_contributor_reads_what_it_earned_for_the_work_it_ran(cluster: Cluster) -> None:
    with cluster.client() as client:
        job = client.submit_group(SLEEPER, ["a", "b"])
        assert job.wait(timeout=60).state == "SUCCEEDED"
        invoice = job.invoice()
    code, out, err = _earnings(cluster, cluster.work_dir(1), "--json")
    assert code == 0, err
    mine = json.loads(out)["earnings"]
    assert mine["charges"] == 2
    assert Decimal(mine["seconds"]) >= Decimal("1.0")  # two tasks of 0.5 s
    paid = sum((line.cost - line.fee for line in invoice.lines), Decimal(0))
    assert Decimal(mine["balance"]) == paid


def test_earnings_with_a_wrong_identity_secret_are_refused(
    cluster: Cluster, tmp_path: Path
) -> None:
    forged = tmp_path / "forged"
    forged.mkdir()
    shutil.copy(cluster.work_dir(1) / "identity.json", forged / "identity.json")
    identity = json.loads((forged / "identity.json").read_text())
    identity["secret"] = "not-the-secret"
    (forged / "identity.json").write_text(json.dumps(identity))
    code, _, err = _earnings(cluster, forged)
    assert code == 5
    assert "identity secret does not match" in err
    assert "Traceback" not in err


def test_earnings_without_an_identity_say_where_they_looked(
    cluster: Cluster, tmp_path: Path
) -> None:
    code, _, err = _earnings(cluster, tmp_path / "empty")
    assert code == 2
    assert "no agent identity in" in err
