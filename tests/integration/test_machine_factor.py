"""Machine factor with real agents: the coordinator keeps each benchmark claim and its
history, and pays no more than it can verify (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import signal
from decimal import Decimal
from typing import Any

import grpc
import pytest
from sqlalchemy import select

from runsurge.billing.benchmark import BASELINE_PARTS
from runsurge.proto.v1 import contributor_pb2, contributor_pb2_grpc
from runsurge.store.database import Database, sqlite_url
from runsurge.store.models import MachineFactorClaim
from tests.integration.cluster import Cluster, wait_until
from tests.integration.rpc import auth, code_of

# Verification over the database is unit-tested on both (test_factor).
pytestmark = pytest.mark.database_independent


def _claims(cluster: Cluster, contributor_id: str) -> list[MachineFactorClaim]:
    db = Database(cluster.db_url or sqlite_url(cluster.data_dir))
    try:
        return list(
            db.call(
                lambda s: s.scalars(
                    select(MachineFactorClaim)
                    .where(MachineFactorClaim.contributor_id == contributor_id)
                    .order_by(MachineFactorClaim.id)
                ).all()
            )
        )
    finally:
        db.close()


def _row(cluster: Cluster) -> dict[str, Any]:
    (row,) = cluster.contributor_rows()
    return row


def test_the_coordinator_stores_the_agents_benchmark_claim_and_its_history(
    cluster_factory: type[Cluster],
) -> None:
    # Test clusters skip the benchmark; this one runs it, on a 0.2 s budget.
    cluster = cluster_factory(contributor_env={"RUNSURGE_CONTRIBUTOR_BENCHMARK_SECONDS": "0.2"})
    cluster.add_contributor()
    row = _row(cluster)
    (first,) = _claims(cluster, row["id"])
    parts = json.loads(first.parts_json)
    assert set(parts) == set(BASELINE_PARTS) and all(v > 0 for v in parts.values())
    assert first.seconds < 3.0  # the 0.2 s budget, not 5 s
    assert Decimal(row["claimed_factor"]) == first.claimed_factor > 0
    # A claim is paid up to the unverified cap until tasks confirm it.
    assert Decimal(row["machine_factor"]) == min(first.claimed_factor, Decimal(2))
    cluster.contributors[0].send_signal(signal.SIGUSR1)  # benchmark again, on demand
    wait_until(lambda: len(_claims(cluster, row["id"])) == 2, 30, "a second claim")
    (listed,) = json.loads(cluster.cli("contributors", "--json").stdout)["contributors"]
    assert listed["claimed_factor"] == str(_claims(cluster, row["id"])[1].claimed_factor)
    assert {"machine_factor", "factor_flagged", "factor_note"} <= set(listed)


def _register(channel: grpc.Channel, token: str, **parts: float) -> Any:
    stub = contributor_pb2_grpc.ContributorServiceStub(channel)
    return stub.Register(
        contributor_pb2.RegisterRequest(
            name="boaster",
            cores=1,
            memory_bytes=1 << 30,
            isolation_level="test",
            benchmark_score=50.0,  # asserted, never believed
            agent_version="test",
            benchmark=contributor_pb2.BenchmarkResult(**parts, cores=1, seconds=5.0),
        ),
        metadata=auth(token),
        timeout=10,
    )


def test_a_claimed_10x_is_paid_at_most_the_cap_and_bad_parts_are_refused(
    cluster_factory: Any,
) -> None:
    cluster = cluster_factory()
    token = (cluster.data_dir / "contributor.token").read_text().strip()
    with grpc.insecure_channel(cluster.address) as channel:
        _register(channel, token, **{k: 10 * v for k, v in BASELINE_PARTS.items()})
        bad = dict(BASELINE_PARTS, disk=0.0)
        refused = code_of(lambda: _register(channel, token, **bad))
    assert refused == grpc.StatusCode.INVALID_ARGUMENT
    row = _row(cluster)
    assert (row["claimed_factor"], row["machine_factor"]) == ("10.000000", "2.000000")
    assert "unverified" in row["factor_note"]
