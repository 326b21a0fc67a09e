"""Billing through a real cluster: invoices from measured usage, refusals, holds, credit."""

from __future__ import annotations

import json
from decimal import Decimal

import grpc
import pytest
from sqlalchemy import select

from runsurge.billing.pricing import Pricing, Usage, price
from runsurge.errors import LimitExceeded
from runsurge.proto.v1 import consumer_pb2, consumer_pb2_grpc
from runsurge.store.database import Database
from runsurge.store.models import Attempt, Contributor
from tests.integration.cluster import Cluster
from tests.integration.rpc import admin, admin_json, auth

# Work that takes a measurable while and holds some memory.
SCRIPT = (
    "import time\n"
    "def process(input_data: str) -> dict:\n"
    "    block = bytearray(int(input_data) * 1024 * 1024)\n"
    "    time.sleep(0.3)\n"
    "    return {'n': len(block)}\n"
)
PRICE = Decimal("0.001")
FEE = Decimal("0.25")
PRICED = {
    "RUNSURGE_COORDINATOR_PRICE_PER_MB_SECOND": str(PRICE),
    "RUNSURGE_COORDINATOR_PLATFORM_FEE_SHARE": str(FEE),
}
ENFORCED = PRICED | {"RUNSURGE_COORDINATOR_BILLING_ENFORCED": "true"}


def _default_consumer(cluster: Cluster) -> str:
    rows = admin_json(cluster, "list")
    return next(r["id"] for r in rows if r["kind"] == "consumer" and r["name"] == "default")


def _stored_attempts(cluster: Cluster, attempt_ids: list[int]) -> dict[int, Attempt]:
    db = Database(cluster.db_url)
    try:
        rows = db.call(
            lambda s: list(s.scalars(select(Attempt).where(Attempt.id.in_(attempt_ids))).all())
        )
    finally:
        db.close()
    return {row.id: row for row in rows}


def _verified_factor(cluster: Cluster, contributor_id: str) -> Decimal:
    db = Database(cluster.db_url)
    try:
        value = db.call(
            lambda s: s.scalar(
                select(Contributor.machine_factor).where(Contributor.id == contributor_id)
            )
        )
    finally:
        db.close()
    assert value is not None
    return Decimal(value).quantize(Decimal("0.000001"))


def test_the_invoice_is_the_formula_applied_to_the_usage_stored_on_the_attempts(
    cluster_factory: type[Cluster],
) -> None:
    cluster = cluster_factory(coordinator_env=PRICED)
    cluster.add_contributor()
    with cluster.client() as client:
        job = client.submit_group(SCRIPT, ["8", "24", "40"])
        job.wait(timeout=120)
        bill = job.invoice()
    assert [line.task_index for line in bill.lines] == [0, 1, 2]
    stored = _stored_attempts(cluster, [line.attempt_id for line in bill.lines])
    pricing = Pricing(price_per_mb_second=PRICE, platform_fee_share=FEE)
    for line in bill.lines:
        attempt = stored[line.attempt_id]
        assert attempt.wall_seconds > 0.3 and attempt.average_memory_bytes > 0
        expected = price(
            Usage.measured(attempt.average_memory_bytes, attempt.wall_seconds),
            line.machine_factor,
            pricing,
        )
        assert (line.cost, line.fee) == (expected.cost, expected.fee)
        # The agent's verified benchmark factor (billing/factor.py), as the coordinator stored it.
        assert line.machine_factor == _verified_factor(cluster, attempt.contributor_id)
        assert line.contributor_id == attempt.contributor_id
    assert bill.total == sum(line.cost for line in bill.lines) > 0
    shown = json.loads(cluster.cli("invoice", job.id, "--json").stdout)["invoice"]
    assert Decimal(shown["total"]) == bill.total
    earned = admin_json(cluster, "earnings")
    assert sum(Decimal(e["balance"]) for e in earned) == bill.total - bill.total_fee


def test_someone_elses_invoice_is_not_found(cluster_factory: type[Cluster]) -> None:
    cluster = cluster_factory()
    other = admin(cluster, "add-consumer", "other").split()[-1]
    with cluster.client() as client:
        job = client.submit(SCRIPT, "1")
    with grpc.insecure_channel(cluster.address) as channel:
        stub = consumer_pb2_grpc.ConsumerServiceStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.GetInvoice(consumer_pb2.GetJobRequest(job_id=job.id), metadata=auth(other))
    assert caught.value.code() is grpc.StatusCode.NOT_FOUND


def test_a_submission_beyond_the_balance_is_refused_until_credit_arrives(
    cluster_factory: type[Cluster],
) -> None:
    cluster = cluster_factory(coordinator_env=ENFORCED)
    with cluster.client() as client:
        with pytest.raises(LimitExceeded, match=r"quoted at .* your balance is 0\.000000"):
            client.submit(SCRIPT, "1")
        script, data = cluster.root / "script.py", cluster.root / "input.txt"
        script.write_text(SCRIPT)
        data.write_text("1")
        refused = cluster.cli("submit", str(script), str(data))
        assert refused.returncode != 0 and "balance is 0.000000" in refused.stderr
        consumer = _default_consumer(cluster)
        bad = cluster.cli("admin", "credit", consumer, "0", "--db-url", cluster.db_url,
                          "--data-dir", str(cluster.data_dir))  # fmt: skip
        assert bad.returncode == 2 and "positive amount" in bad.stderr
        admin(cluster, "credit", consumer, "1000")
        job = client.submit(SCRIPT, "1")  # no contributor: it stays queued
        held = client.balance()
        assert held.balance == Decimal(1000) and held.held > 0
        assert held.available == Decimal(1000) - held.held
        job.cancel()
        released = client.balance()
    assert released.held == 0 and released.available == Decimal(1000)
    shown = json.loads(cluster.cli("balance", "--json").stdout)["balance"]
    assert shown == {
        "balance": "1000.000000",
        "limit": "0.000000",
        "held": "0.000000",
        "available": "1000.000000",
    }


def test_a_charged_job_settles_its_hold_and_pays_its_contributor(
    cluster_factory: type[Cluster],
) -> None:
    cluster = cluster_factory(coordinator_env=ENFORCED)
    cluster.add_contributor()
    admin(cluster, "credit", _default_consumer(cluster), "500")
    with cluster.client() as client:
        job = client.submit(SCRIPT, "4")
        job.wait(timeout=120)
        total = job.invoice().total
        after = client.balance()
    assert after.balance == Decimal(500) - total
    (earned,) = admin_json(cluster, "earnings")
    assert Decimal(earned["balance"]) == total - (total * FEE).quantize(Decimal("0.000001"))
