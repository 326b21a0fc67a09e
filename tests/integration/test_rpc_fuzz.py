"""Malformed and oversized requests at every RPC of a real coordinator: a status, never a crash.

Random bytes are sent as the request of each method (with a valid token of the right
kind, so that they reach decoding). Each call must end with a status the caller can
act on — never UNKNOWN or INTERNAL — and nothing of another consumer's job may come
back. Afterwards the coordinator still serves an ordinary request.
"""

from __future__ import annotations

from collections.abc import Callable

import grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runsurge.proto.v1 import consumer_pb2, consumer_pb2_grpc, contributor_pb2
from runsurge.wire_limits import MAX_MESSAGE_BYTES
from tests.integration.cluster import Cluster
from tests.integration.rpc import admin_json, auth, register

BROKEN = {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL}
SCRIPT = "def process(input_data: str) -> dict:\n    return {'n': len(input_data)}\n"
CALL_TIMEOUT = 1.0  # a message that does decode may open a stream that waits for more
# An oversized message is refused before any handler runs, but sending it takes time on a
# loaded machine: its deadline only bounds a hang, it is not what the test asserts.
OVERSIZED_TIMEOUT = 30.0


def _methods() -> list[tuple[str, bool, bool]]:
    """(path, client streaming, server streaming) of every RunSurge RPC."""
    found = []
    for module, name in (
        (consumer_pb2, "ConsumerService"),
        (contributor_pb2, "ContributorService"),
    ):
        service = module.DESCRIPTOR.services_by_name[name]
        for m in service.methods:
            path = f"/{service.full_name}/{m.name}"
            found.append((path, m.client_streaming, m.server_streaming))
    return found


RawCall = Callable[[bytes, float], tuple[grpc.StatusCode, list[bytes]]]


def _raw_call(
    channel: grpc.Channel, path: str, streams_in: bool, streams_out: bool, token: str
) -> RawCall:
    factory = {
        (False, False): channel.unary_unary,
        (False, True): channel.unary_stream,
        (True, False): channel.stream_unary,
        (True, True): channel.stream_stream,
    }[(streams_in, streams_out)]
    method = factory(path, request_serializer=None, response_deserializer=None)

    def call(payload: bytes, timeout: float) -> tuple[grpc.StatusCode, list[bytes]]:
        request = iter([payload]) if streams_in else payload
        try:
            reply = method(request, metadata=auth(token), timeout=timeout)
            replies = list(reply) if streams_out else [reply]
        except grpc.RpcError as exc:
            return exc.code(), []
        return grpc.StatusCode.OK, replies

    return call


def test_malformed_and_oversized_requests_get_a_status_and_leak_nothing(
    cluster_factory: type[Cluster],
) -> None:
    cluster = cluster_factory()
    enrolment = (cluster.data_dir / "contributor.token").read_text().strip()
    b_token = admin_json(cluster, "add-consumer", "fuzzer")["token"]
    with cluster.client() as a:
        a_job = a.submit(SCRIPT, "secret input").id  # queued: no agent runs it
    with grpc.insecure_channel(
        cluster.address, options=[("grpc.max_send_message_length", 2 * MAX_MESSAGE_BYTES)]
    ) as channel:
        session = register(channel, enrolment).session_token
        calls: dict[str, RawCall] = {}
        for path, streams_in, streams_out in _methods():
            if "ConsumerService" in path:
                token = b_token
            else:
                token = enrolment if path.endswith("/Register") else session
            calls[path] = _raw_call(channel, path, streams_in, streams_out, token)

        for path, call in calls.items():
            code, _ = call(b"\x0a" * (MAX_MESSAGE_BYTES + 1024), OVERSIZED_TIMEOUT)
            assert code == grpc.StatusCode.RESOURCE_EXHAUSTED, (path, code)

        @settings(
            max_examples=15,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture],
        )
        @given(path=st.sampled_from(sorted(calls)), payload=st.binary(max_size=512))
        def fuzz(path: str, payload: bytes) -> None:
            code, replies = calls[path](payload, CALL_TIMEOUT)
            assert code not in BROKEN, (path, payload, code)
            assert not any(a_job.encode() in r for r in replies), (path, "leaked A's job")

        for _ in range(len(calls)):  # about 15 examples per method
            fuzz()

        # Undecodable bytes (a truncated length-delimited field) say so.
        code, _ = calls["/runsurge.v1.ConsumerService/GetJob"](b"\x0a\x05ab", CALL_TIMEOUT)
        assert code == grpc.StatusCode.INVALID_ARGUMENT
        jobs = consumer_pb2_grpc.ConsumerServiceStub(channel)
        listed = jobs.ListJobs(
            consumer_pb2.ListJobsRequest(), metadata=auth(cluster.consumer_token)
        )
        assert [j.id for j in listed.jobs] == [a_job]
