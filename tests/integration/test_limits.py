"""Per-token limits through a real coordinator: each refusal is RESOURCE_EXHAUSTED naming its limit.

Each check uses a fresh consumer, so that one consumer's requests never count against
another's rate (which the rate test checks too).
"""

from __future__ import annotations

import grpc
import pytest

from runsurge.client import Client
from runsurge.errors import LimitExceeded
from runsurge.proto.v1 import consumer_pb2, consumer_pb2_grpc
from tests.integration.cluster import Cluster
from tests.integration.rpc import admin_json, auth

SCRIPT = "def process(input_data: str) -> dict:\n    return {'n': len(input_data)}\n"
LIMITS = {
    "RUNSURGE_COORDINATOR_MAX_SCRIPT_BYTES": "400",
    "RUNSURGE_COORDINATOR_MAX_INPUT_BYTES": "100",
    "RUNSURGE_COORDINATOR_MAX_GROUP_INPUTS": "3",
    "RUNSURGE_COORDINATOR_MAX_ACTIVE_JOBS": "2",
    "RUNSURGE_COORDINATOR_RATE_LIMIT_PER_SECOND": "1",
    "RUNSURGE_COORDINATOR_RATE_LIMIT_BURST": "12",
}


@pytest.fixture
def limited(cluster_factory: type[Cluster]) -> Cluster:
    """A coordinator with small limits and no agent, so that jobs stay unfinished."""
    return cluster_factory(coordinator_env=LIMITS)


def _consumer(cluster: Cluster) -> Client:
    return Client(cluster.address, admin_json(cluster, "add-consumer", "limited")["token"])


@pytest.mark.database_independent
def test_script_over_max_script_bytes_is_refused_naming_the_limit(limited: Cluster) -> None:
    with (
        _consumer(limited) as client,
        pytest.raises(LimitExceeded, match=r"400 \(max_script_bytes\)"),
    ):
        client.submit(SCRIPT + "#" * 400, "x")


@pytest.mark.database_independent
def test_input_over_max_input_bytes_is_refused_naming_the_limit(limited: Cluster) -> None:
    with (
        _consumer(limited) as client,
        pytest.raises(LimitExceeded, match=r"limit of 100 bytes \(max_input_bytes\)"),
    ):
        client.submit(SCRIPT, "x" * 101)


@pytest.mark.database_independent
def test_group_over_max_group_inputs_is_refused_naming_the_limit(limited: Cluster) -> None:
    with _consumer(limited) as client:
        client.submit_group(SCRIPT, ["a", "b", "c"])
        with pytest.raises(LimitExceeded, match=r"at most 3 inputs \(max_group_inputs\)"):
            client.submit_group(SCRIPT, ["a", "b", "c", "d"])


def test_unfinished_jobs_over_max_active_jobs_are_refused_per_consumer(limited: Cluster) -> None:
    with _consumer(limited) as client, _consumer(limited) as other:
        client.submit(SCRIPT, "1")
        client.submit(SCRIPT, "2")
        with pytest.raises(LimitExceeded, match=r"the limit is 2 \(max_active_jobs\)"):
            client.submit(SCRIPT, "3")
        other.submit(SCRIPT, "someone else's first job")  # counted per consumer


@pytest.mark.database_independent
def test_requests_over_the_rate_are_resource_exhausted_per_token(limited: Cluster) -> None:
    token = admin_json(limited, "add-consumer", "busy")["token"]
    other = admin_json(limited, "add-consumer", "calm")["token"]
    with grpc.insecure_channel(limited.address) as channel:
        jobs = consumer_pb2_grpc.ConsumerServiceStub(channel)
        request = consumer_pb2.ListJobsRequest()
        for _ in range(12):  # the burst
            jobs.ListJobs(request, metadata=auth(token))
        with pytest.raises(grpc.RpcError) as refused:
            jobs.ListJobs(request, metadata=auth(token))
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "1 requests/s (rate_limit_per_second), burst 12" in refused.value.details()
        jobs.ListJobs(request, metadata=auth(other))  # another token's bucket is full
