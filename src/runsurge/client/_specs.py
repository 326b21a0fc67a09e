"""What a submission is before any I/O: where to connect, the script, the JobSpec.

Shared by `Client` and `runsurge.aio.Client`, so that the two validate options,
resolve settings and build requests the same way and cannot drift apart.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from runsurge.client import _wire
from runsurge.client._options import JobOptions, spec_fields
from runsurge.config import ClientSettings, parse_size
from runsurge.errors import ConfigError, InvalidInput, InvalidRequest
from runsurge.proto.v1 import consumer_pb2
from runsurge.tls import ClientTls

ScriptSource = str | os.PathLike[str] | IO[str] | IO[bytes]


def read_script(script: ScriptSource) -> tuple[bytes, str]:
    """The script's bytes and a file name for tracebacks.

    A Path (or a str naming an existing .py file) is read from disk; any other str is
    taken as the source itself; a file object is read.
    """
    if isinstance(script, os.PathLike) or (
        isinstance(script, str) and "\n" not in script and script.endswith(".py")
    ):
        path = Path(script)
        try:
            return path.read_bytes(), path.name
        except OSError as exc:
            raise InvalidInput(f"cannot read script {path}: {exc.strerror}") from None
    if isinstance(script, str):
        return script.encode(), "script.py"
    data = script.read()
    name = Path(getattr(script, "name", "script.py")).name
    return (data.encode() if isinstance(data, str) else data), name


AggregateSpec = str | Iterable[str] | Mapping[str, str] | None


@dataclass(frozen=True)
class Connection:
    """Where a client connects and how: shared by `Client` and `runsurge.aio.Client`."""

    address: str
    metadata: tuple[tuple[str, str], ...]
    tls: ClientTls

    @classmethod
    def resolve(
        cls,
        coordinator: str | None,
        token: str | None,
        settings: ClientSettings | None,
        tls_ca: str | os.PathLike[str] | None,
        tls_cert: str | os.PathLike[str] | None,
        tls_key: str | os.PathLike[str] | None,
    ) -> Connection:
        """Arguments first, then the environment and the config file (ClientSettings)."""
        base = settings or ClientSettings()
        given = {
            "coordinator": coordinator,
            "token": token,
            "tls_ca": Path(tls_ca) if tls_ca else None,
            "tls_cert": Path(tls_cert) if tls_cert else None,
            "tls_key": Path(tls_key) if tls_key else None,
        }
        resolved = base.model_copy(update={k: v for k, v in given.items() if v}).resolved()
        if not resolved.coordinator:
            raise ConfigError(
                "no coordinator configured: pass --coordinator, set RUNSURGE_COORDINATOR, "
                "or start a local one with `runsurge up`"
            )
        return cls(
            resolved.coordinator,
            (("authorization", f"Bearer {resolved.token}"),),
            ClientTls(resolved.tls_ca, resolved.tls_cert, resolved.tls_key),
        )


def single_spec(
    script: ScriptSource, name: str, memory: int | str | None, options: JobOptions
) -> consumer_pb2.JobSpec:
    """The JobSpec of a single job, options validated (InvalidRequest)."""
    source, script_name = read_script(script)
    return consumer_pb2.JobSpec(
        script=source,
        kind=consumer_pb2.JOB_KIND_SINGLE,
        name=name,
        script_name=script_name,
        memory_limit_bytes=memory_limit(memory),
        **spec_fields(options),
    )


def group_spec(
    script: ScriptSource,
    aggregate: AggregateSpec,
    on_error: str,
    name: str,
    memory: int | str | None,
    options: JobOptions,
) -> consumer_pb2.JobSpec:
    """The JobSpec of a group, aggregate and options validated (InvalidRequest)."""
    source, script_name = read_script(script)
    specs, use_script = normalise_aggregate(aggregate)
    spec = consumer_pb2.JobSpec(
        script=source,
        kind=consumer_pb2.JOB_KIND_GROUP,
        name=name,
        script_name=script_name,
        aggregate=specs,
        aggregate_script=use_script,
        on_error=_wire.ON_ERROR.get(on_error, consumer_pb2.ON_ERROR_UNSPECIFIED),
        memory_limit_bytes=memory_limit(memory),
        **spec_fields(options),
    )
    if on_error not in _wire.ON_ERROR:
        raise InvalidRequest(f"on_error must be 'continue' or 'fail-fast', not {on_error!r}")
    return spec


def memory_limit(memory: int | str | None) -> int:
    """A per-task memory limit in bytes from an int or a size string (None: no limit)."""
    if memory is None:
        return 0
    try:
        value = parse_size(memory)
    except ConfigError as exc:
        raise InvalidRequest(f"memory: {exc}") from None
    if value <= 0:
        raise InvalidRequest(f"memory must be a positive size, not {memory!r}")
    return value


def normalise_aggregate(aggregate: AggregateSpec) -> tuple[list[str], bool]:
    """(built-in FIELD=REDUCER specs, use the script's aggregate()) from the SDK's forms."""
    if aggregate is None:
        return [], False
    if isinstance(aggregate, str):
        return ([], True) if aggregate == "script" else ([aggregate], False)
    if isinstance(aggregate, Mapping):
        return [f"{field}={reducer}" for field, reducer in aggregate.items()], False
    specs = list(aggregate)
    if "script" in specs:
        raise InvalidRequest("use aggregate='script' alone: it cannot be combined with reducers")
    return specs, False
