"""Accounts through a real coordinator: who may call what, admin commands, no tokens in logs."""

from __future__ import annotations

import re
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from runsurge.proto.v1 import consumer_pb2, consumer_pb2_grpc, contributor_pb2, contributor_pb2_grpc
from tests.integration.cluster import Cluster, wait_until
from tests.integration.rpc import admin, admin_json, auth, code_of, register

OK = grpc.StatusCode.OK
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED
DENIED = grpc.StatusCode.PERMISSION_DENIED
SCRIPT = "def process(input_data: str) -> dict:\n    return {'n': len(input_data)}\n"
# What every RunSurge token looks like (auth.new_token): a prefix and 43 urlsafe characters.
TOKEN_PATTERN = re.compile(r"rs[a-z]_[A-Za-z0-9_-]{40,}")


def _enrolment_token(cluster: Cluster) -> str:
    return (cluster.data_dir / "contributor.token").read_text().strip()


def test_missing_unknown_and_wrong_kind_tokens_answer_distinct_codes(
    cluster_factory: type[Cluster],
) -> None:
    cluster = cluster_factory()
    consumer, enrolment = cluster.consumer_token, _enrolment_token(cluster)
    with grpc.insecure_channel(cluster.address) as channel:
        jobs = consumer_pb2_grpc.ConsumerServiceStub(channel)
        agents = contributor_pb2_grpc.ContributorServiceStub(channel)
        session = register(channel, enrolment).session_token
        listing = consumer_pb2.ListJobsRequest()
        fetch = contributor_pb2.FetchBlobRequest(sha256="0" * 64)

        assert code_of(lambda: jobs.ListJobs(listing)) == UNAUTHENTICATED
        assert code_of(lambda: jobs.ListJobs(listing, metadata=auth("rsc_forged"))) == (
            UNAUTHENTICATED
        )
        assert code_of(lambda: jobs.ListJobs(listing, metadata=auth(consumer))) == OK
        # Valid tokens of the wrong kind: known callers, not allowed here.
        assert code_of(lambda: jobs.ListJobs(listing, metadata=auth(enrolment))) == DENIED
        assert code_of(lambda: jobs.ListJobs(listing, metadata=auth(session))) == DENIED
        assert code_of(lambda: agents.FetchBlob(fetch, metadata=auth(consumer))) == DENIED
        assert code_of(lambda: agents.FetchBlob(fetch, metadata=auth(enrolment))) == DENIED
        assert code_of(lambda: register(channel, consumer)) == DENIED
        assert code_of(lambda: register(channel, session)) == DENIED
        assert code_of(lambda: register(channel, "rsk_forged")) == UNAUTHENTICATED


def test_health_and_reflection_need_no_token(cluster_factory: type[Cluster]) -> None:
    cluster = cluster_factory()
    with grpc.insecure_channel(cluster.address) as channel:
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        replies = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10
        )
        names = {s.name for r in replies for s in r.list_services_response.service}
        assert "runsurge.v1.ConsumerService" in names


def test_admin_consumer_works_until_revoked_on_a_running_coordinator(
    cluster_factory: type[Cluster],
) -> None:
    cluster = cluster_factory()
    made = admin_json(cluster, "add-consumer", "alice")
    listing = consumer_pb2.ListJobsRequest()
    with grpc.insecure_channel(cluster.address) as channel:
        jobs = consumer_pb2_grpc.ConsumerServiceStub(channel)
        assert code_of(lambda: jobs.ListJobs(listing, metadata=auth(made["token"]))) == OK

        admin(cluster, "revoke", made["id"])

        assert code_of(lambda: jobs.ListJobs(listing, metadata=auth(made["token"]))) == (
            UNAUTHENTICATED
        )
        # The other consumers are untouched.
        assert code_of(lambda: jobs.ListJobs(listing, metadata=auth(cluster.consumer_token))) == OK
    rows = {row["id"]: row for row in admin_json(cluster, "list")}
    assert rows[made["id"]]["status"] == "revoked"
    assert made["token"] not in admin(cluster, "list")


def test_admin_consumer_token_expires_without_a_restart(cluster_factory: type[Cluster]) -> None:
    cluster = cluster_factory()
    made = admin_json(cluster, "add-consumer", "brief", "--expires-in", "3s")
    listing = consumer_pb2.ListJobsRequest()
    with grpc.insecure_channel(cluster.address) as channel:
        jobs = consumer_pb2_grpc.ConsumerServiceStub(channel)
        assert code_of(lambda: jobs.ListJobs(listing, metadata=auth(made["token"]))) == OK
        wait_until(
            lambda: (
                code_of(lambda: jobs.ListJobs(listing, metadata=auth(made["token"])))
                == UNAUTHENTICATED
            ),
            10,
            "the token to expire",
            step=0.25,
        )
    assert {r["id"]: r["status"] for r in admin_json(cluster, "list")}[made["id"]] == "expired"


def test_admin_enrolment_tokens_register_agents_until_revoked(
    cluster_factory: type[Cluster],
) -> None:
    cluster = cluster_factory()
    first = admin_json(cluster, "add-contributor-token")
    second = admin_json(cluster, "add-contributor-token")
    with grpc.insecure_channel(cluster.address) as channel:
        assert code_of(lambda: register(channel, first["token"])) == OK
        assert code_of(lambda: register(channel, second["token"])) == OK
        assert code_of(lambda: register(channel, _enrolment_token(cluster))) == OK

        admin(cluster, "revoke", first["id"])

        assert code_of(lambda: register(channel, first["token"])) == UNAUTHENTICATED
        assert code_of(lambda: register(channel, second["token"])) == OK


def test_tokens_never_appear_in_the_coordinator_or_agent_log(
    cluster_factory: type[Cluster],
) -> None:
    cluster = cluster_factory()
    cluster.add_contributor()
    made = admin_json(cluster, "add-consumer", "carol")
    with cluster.client() as client:
        assert client.submit(SCRIPT, "abc").wait(timeout=60).result == {"n": 3}
    with grpc.insecure_channel(cluster.address) as channel:
        jobs = consumer_pb2_grpc.ConsumerServiceStub(channel)
        forged = "rsc_" + "x" * 43
        for token in (forged, made["token"], cluster.consumer_token, _enrolment_token(cluster)):
            code_of(
                lambda t=token: jobs.GetJob(
                    consumer_pb2.GetJobRequest(job_id="nope"), metadata=auth(t)
                )
            )  # type: ignore[misc]
        admin(cluster, "revoke", made["id"])
        code_of(lambda: jobs.ListJobs(consumer_pb2.ListJobsRequest(), metadata=auth(made["token"])))
    time.sleep(0.5)  # let the coordinator flush what it logs about those calls
    log = (cluster.root / "coordinator.log").read_text(errors="replace")
    assert "registered" in log  # the log is the coordinator's, and not empty
    agent_log = (cluster.root / "contributor-1.log").read_text(errors="replace")
    for text in (log, agent_log):
        for token in (forged, made["token"], cluster.consumer_token, _enrolment_token(cluster)):
            assert token not in text
        assert TOKEN_PATTERN.findall(text) == []
