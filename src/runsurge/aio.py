"""The asyncio consumer SDK: `async with runsurge.aio.Client() as client:` (docs/sdk.md).

A module of its own, so that `import runsurge` stays free of the client and
`import runsurge.client` free of asyncio's job handles until they are wanted.
"""

from runsurge.client._aio_job import AsyncJob
from runsurge.client.aio import AsyncJobFutures, Client

__all__ = ["AsyncJob", "AsyncJobFutures", "Client"]
