"""RunSurge errors → gRPC status codes, in one place, for every servicer method."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc
from sqlalchemy.exc import OperationalError

from runsurge import errors

log = logging.getLogger(__name__)

_CODES: list[tuple[type[errors.RunSurgeError], grpc.StatusCode]] = [
    (errors.InvalidRequest, grpc.StatusCode.INVALID_ARGUMENT),
    (errors.NotFound, grpc.StatusCode.NOT_FOUND),
    (errors.Unauthenticated, grpc.StatusCode.UNAUTHENTICATED),
    (errors.PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
    (errors.LimitExceeded, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (errors.Conflict, grpc.StatusCode.FAILED_PRECONDITION),
    (errors.ScanUnavailable, grpc.StatusCode.UNAVAILABLE),
]

FINDINGS_METADATA_KEY = "runsurge-findings-bin"
ERROR_TYPE_METADATA_KEY = "runsurge-error-type"

R = TypeVar("R")


def code_for(exc: errors.RunSurgeError) -> grpc.StatusCode:
    """The status code a RunSurge error is reported with."""
    for cls, code in _CODES:
        if isinstance(exc, cls):
            return code
    return grpc.StatusCode.INTERNAL


async def _abort(context: grpc.aio.ServicerContext[Any, Any], exc: BaseException) -> None:
    if isinstance(exc, errors.RunSurgeError):
        # The exact error class rides along so the SDK can raise the same one.
        trailers: list[tuple[str, str | bytes]] = [(ERROR_TYPE_METADATA_KEY, type(exc).__name__)]
        if isinstance(exc, errors.ScriptRejected):
            payload = json.dumps([f.to_dict() for f in exc.findings]).encode()
            trailers.append((FINDINGS_METADATA_KEY, payload))
        context.set_trailing_metadata(tuple(trailers))
        await context.abort(code_for(exc), str(exc))
    if isinstance(exc, OperationalError):
        log.exception("database unavailable")
        await context.abort(grpc.StatusCode.UNAVAILABLE, "coordinator database unavailable")
    log.exception("internal error")
    await context.abort(grpc.StatusCode.INTERNAL, f"internal error: {type(exc).__name__}")


async def abort(context: grpc.aio.ServicerContext[Any, Any], exc: BaseException) -> None:
    """End the call with the status `exc` maps to (always raises)."""
    await _abort(context, exc)


def unary(
    fn: Callable[..., Awaitable[R]],
) -> Callable[..., Awaitable[R]]:
    """Wrap a unary (or stream-in) servicer method with the error mapping."""

    @functools.wraps(fn)
    async def wrapper(self: Any, request: Any, context: Any) -> R:
        try:
            return await fn(self, request, context)
        except (errors.RunSurgeError, OperationalError) as exc:
            await _abort(context, exc)
            raise  # unreachable: abort raises

    return wrapper


def streaming(
    fn: Callable[..., AsyncIterator[R]],
) -> Callable[..., AsyncIterator[R]]:
    """Wrap a server-streaming servicer method with the error mapping."""

    @functools.wraps(fn)
    async def wrapper(self: Any, request: Any, context: Any) -> AsyncIterator[R]:
        try:
            async for item in fn(self, request, context):
                yield item
        except (errors.RunSurgeError, OperationalError) as exc:
            await _abort(context, exc)

    return wrapper
