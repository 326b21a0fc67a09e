"""One server interceptor authenticates every RPC of the RunSurge services.

Each method of ConsumerService needs a consumer token, ContributorService.Register an
enrolment token, every other ContributorService method a contributor session token.
No, unknown, expired or revoked tokens answer UNAUTHENTICATED; a valid token of the
wrong kind answers PERMISSION_DENIED; a consumer over its request rate
(ratelimit.py) RESOURCE_EXHAUSTED. Other services (health, reflection) stay open.
When the coordinator verifies contributors (`contributor_port` set, see transport.py),
a ContributorService call without a verified client certificate answers
UNAUTHENTICATED before its token is even looked at.
The caller's Principal reaches the servicer through `current_principal()`.

Every RunSurge method also gets the tolerant deserializer of decoding.py, so that
undecodable bytes answer INVALID_ARGUMENT rather than UNKNOWN.
"""

from __future__ import annotations

import contextvars
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeAlias

import grpc
from sqlalchemy.exc import OperationalError

from runsurge.coordinator.auth import CONSUMER, CONTRIBUTOR, ENROLMENT, Principal, bearer
from runsurge.coordinator.decoding import decoded_stream, reject_undecodable, tolerant
from runsurge.coordinator.ratelimit import RateLimiter
from runsurge.coordinator.status import abort
from runsurge.errors import PermissionDenied, RunSurgeError, Unauthenticated
from runsurge.proto.v1 import consumer_pb2, contributor_pb2

Context: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"
# Who holds a token: (token, kind wanted) -> Principal, raising Unauthenticated.
Identify = Callable[[str, str], Awaitable[Principal]]

_principal: contextvars.ContextVar[Principal] = contextvars.ContextVar("runsurge_principal")


def current_principal() -> Principal:
    """The authenticated caller of the RPC being served; fails closed outside one."""
    try:
        return _principal.get()
    except LookupError:
        raise Unauthenticated("no authenticated caller") from None


# ContributorService methods called before (or without) a session: the enrolment token.
ENROLMENT_METHODS = frozenset({"Register", "GetEarnings"})


def required_kinds() -> dict[str, str]:
    """The token kind each RunSurge method needs, by full method path."""
    kinds: dict[str, str] = {}
    consumer = consumer_pb2.DESCRIPTOR.services_by_name["ConsumerService"]
    for method in consumer.methods:
        kinds[f"/{consumer.full_name}/{method.name}"] = CONSUMER
    contributor = contributor_pb2.DESCRIPTOR.services_by_name["ContributorService"]
    for method in contributor.methods:
        kind = ENROLMENT if method.name in ENROLMENT_METHODS else CONTRIBUTOR
        kinds[f"/{contributor.full_name}/{method.name}"] = kind
    return kinds


class AuthInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Authenticates (and decodes safely) before any servicer code runs."""

    def __init__(
        self, identify: Identify, limiter: RateLimiter | None = None, contributor_port: str = ""
    ) -> None:
        self._identify = identify
        self._limiter = limiter
        self._kinds = required_kinds()
        self._contributor_port = contributor_port

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method: str = handler_call_details.method
        kind = self._kinds.get(method)
        if kind is None:  # health, reflection: open, and grpc's own
            return handler
        return _wrap(handler, self._gate(kind, method))

    def _gate(self, kind: str, method: str) -> Callable[[Context], Awaitable[None]]:
        async def gate(context: Context) -> None:
            try:
                if kind != CONSUMER:
                    self._check_client_certificate(context)
                principal = await self._identify(bearer(context.invocation_metadata()), kind)
                if principal.kind != kind:
                    raise PermissionDenied(
                        f"a {principal.kind} token may not call {method.rsplit('/', 1)[-1]} "
                        f"(it needs a {kind} token)"
                    )
                if self._limiter is not None and kind == CONSUMER:
                    self._limiter.take(principal.id)
            except (RunSurgeError, OperationalError) as exc:
                await abort(context, exc)
                raise  # unreachable: abort raises
            _principal.set(principal)

        return gate

    def _check_client_certificate(self, context: Context) -> None:
        """With mutual TLS on, contributors must have shown a certificate the CA signed.

        gRPC verified it in the handshake; only the contributor port asks for one, so
        `peer_identities()` is None on every other port.
        """
        if self._contributor_port and context.peer_identities() is None:
            port = self._contributor_port.rsplit(":", 1)[-1]
            raise Unauthenticated(
                "this coordinator needs a client certificate from contributors: connect to "
                f"its contributor port ({port}, contributor_listen) with --tls-cert and "
                "--tls-key (a certificate signed by its tls_client_ca) and --tls-ca"
            )


Gate: TypeAlias = Callable[[Context], Awaitable[None]]


def _wrap(handler: grpc.RpcMethodHandler, gate: Gate) -> grpc.RpcMethodHandler:
    """The same method with `gate` run first and undecodable requests refused."""
    deserialize = tolerant(handler.request_deserializer)
    serialize = handler.response_serializer
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(
            _unary_in(handler.unary_unary, gate), deserialize, serialize
        )
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(
            _stream_in(handler.stream_unary, gate), deserialize, serialize
        )
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(
            _unary_in_stream_out(handler.unary_stream, gate), deserialize, serialize
        )
    return grpc.stream_stream_rpc_method_handler(
        _stream_in_stream_out(handler.stream_stream, gate), deserialize, serialize
    )


def _unary_in(inner: Any, gate: Gate) -> Any:
    async def behaviour(request: Any, context: Context) -> Any:
        await gate(context)
        await reject_undecodable(request, context)
        return await inner(request, context)

    return behaviour


def _stream_in(inner: Any, gate: Gate) -> Any:
    async def behaviour(requests: AsyncIterator[Any], context: Context) -> Any:
        await gate(context)
        return await inner(decoded_stream(requests, context), context)

    return behaviour


def _unary_in_stream_out(inner: Any, gate: Gate) -> Any:
    async def behaviour(request: Any, context: Context) -> AsyncIterator[Any]:
        await gate(context)
        await reject_undecodable(request, context)
        async for response in inner(request, context):
            yield response

    return behaviour


def _stream_in_stream_out(inner: Any, gate: Gate) -> Any:
    async def behaviour(requests: AsyncIterator[Any], context: Context) -> AsyncIterator[Any]:
        await gate(context)
        async for response in inner(decoded_stream(requests, context), context):
            yield response

    return behaviour
