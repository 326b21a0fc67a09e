"""`runsurge.aio.Client` refuses bad options before any I/O and speaks RunSurge errors.

No cluster: a port nobody listens on is a real coordinator that is down.
"""

from __future__ import annotations

import asyncio
import socket

import pytest

from runsurge import aio
from runsurge.errors import CoordinatorUnreachable, InvalidRequest

SCRIPT = "def process(input_data: str) -> dict:\n    return {}\n"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_coordinator_that_is_down_raises_coordinator_unreachable() -> None:
    async def main() -> None:
        async with aio.Client(f"127.0.0.1:{_closed_port()}", "token", timeout=20) as client:
            await client.jobs()

    with pytest.raises(CoordinatorUnreachable, match="cannot reach the coordinator"):
        asyncio.run(main())


@pytest.mark.parametrize(
    ("options", "named"),
    [({"memory": "lots"}, "memory"), ({"on_error": "shrug"}, "on_error")],
)
def test_bad_options_are_refused_as_by_the_sync_client(options: dict[str, str], named: str) -> None:
    async def main() -> None:
        async with aio.Client(f"127.0.0.1:{_closed_port()}", "token") as client:
            await client.submit_group(SCRIPT, ["a"], **options)  # type: ignore[arg-type]

    with pytest.raises(InvalidRequest, match=named):
        asyncio.run(main())
