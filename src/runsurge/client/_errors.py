"""gRPC errors → RunSurge errors at the client edge, so SDK users see one tree."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import grpc

from runsurge import errors
from runsurge.scan.findings import Finding
from runsurge.tls import handshake_hint

T = TypeVar("T")
FINDINGS_METADATA_KEY = "runsurge-findings-bin"
ERROR_TYPE_METADATA_KEY = "runsurge-error-type"

_BY_CODE: dict[grpc.StatusCode, Callable[[str], errors.RunSurgeError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: errors.InvalidRequest,
    grpc.StatusCode.NOT_FOUND: errors.NotFound,
    grpc.StatusCode.UNAUTHENTICATED: errors.Unauthenticated,
    grpc.StatusCode.PERMISSION_DENIED: errors.PermissionDenied,
    grpc.StatusCode.RESOURCE_EXHAUSTED: errors.LimitExceeded,
    grpc.StatusCode.FAILED_PRECONDITION: errors.Conflict,
}


def _precise_class(name: object) -> type[errors.RunSurgeError] | None:
    """The server's own error class, when the trailer names one of ours."""
    cls = getattr(errors, name, None) if isinstance(name, str) else None
    if not (isinstance(cls, type) and issubclass(cls, errors.RunSurgeError)):
        return None
    if cls is errors.ScriptRejected:  # needs its findings, handled above
        return None
    return cls


def translate(exc: grpc.RpcError, address: str, tls: bool = False) -> errors.RunSurgeError:
    """The RunSurge error for a failed call (`tls`: whether the channel used TLS)."""
    call = isinstance(exc, grpc.Call | grpc.aio.AioRpcError)  # grpc.aio's is no grpc.Call
    code = exc.code() if call else grpc.StatusCode.UNKNOWN
    details = (exc.details() if call else "") or ""
    trailers = dict(exc.trailing_metadata() or ()) if call else {}
    if FINDINGS_METADATA_KEY in trailers:
        findings = [Finding.from_dict(d) for d in json.loads(trailers[FINDINGS_METADATA_KEY])]
        return errors.ScriptRejected(findings)
    precise = _precise_class(trailers.get(ERROR_TYPE_METADATA_KEY))
    if precise is not None:
        return precise(details)
    hint = handshake_hint(details, tls) if code == grpc.StatusCode.UNAVAILABLE else ""
    if hint:
        return errors.CoordinatorUnreachable(
            f"cannot connect to the coordinator at {address}: {hint} ({details})"
        )
    if code == grpc.StatusCode.UNAVAILABLE:
        return errors.CoordinatorUnreachable(
            f"cannot reach the coordinator at {address} ({details or 'unavailable'}); "
            "is it running? Start a local one with `runsurge up`."
        )
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return errors.CoordinatorUnreachable(f"the coordinator at {address} did not answer in time")
    factory = _BY_CODE.get(code)
    if factory is not None:
        return factory(details)
    return errors.RunSurgeError(f"{code.name}: {details}")


@contextmanager
def translated(address: str, tls: bool = False) -> Iterator[None]:
    """Re-raise gRPC errors inside the block as RunSurge errors."""
    try:
        yield
    except grpc.RpcError as exc:
        raise translate(exc, address, tls) from None
