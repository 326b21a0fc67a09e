"""Undecodable requests answer INVALID_ARGUMENT, not UNKNOWN.

gRPC Python runs a method's request deserializer before the servicer, outside any
error mapping: a `DecodeError` there reaches the caller as UNKNOWN. The deserializer
is wrapped so that bytes that do not decode become an `Undecodable` value instead,
and the method wrapper (coordinator/interceptor.py) aborts with INVALID_ARGUMENT when
it meets one, before any servicer code sees it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import grpc

Deserializer = Callable[[bytes], Any]


@dataclass(frozen=True)
class Undecodable:
    """What a request that failed to decode becomes; `why` names the decoder's complaint."""

    why: str


def tolerant(deserializer: Deserializer | None) -> Deserializer | None:
    """`deserializer`, returning Undecodable instead of raising."""
    if deserializer is None:
        return None
    inner = deserializer

    def deserialize(data: bytes) -> Any:
        try:
            return inner(data)
        except Exception as exc:  # any failure to decode is the caller's, not ours
            return Undecodable(f"{type(exc).__name__}: {exc}"[:200])

    return deserialize


async def reject_undecodable(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
    """Abort the call with INVALID_ARGUMENT if `request` did not decode."""
    if isinstance(request, Undecodable):
        await context.abort(
            grpc.StatusCode.INVALID_ARGUMENT, f"request does not decode ({request.why})"
        )


async def decoded_stream(
    requests: AsyncIterator[Any], context: grpc.aio.ServicerContext[Any, Any]
) -> AsyncIterator[Any]:
    """The request stream, aborting with INVALID_ARGUMENT at the first undecodable message."""
    async for request in requests:
        await reject_undecodable(request, context)
        yield request
