"""What the SDK shows of a job while it runs: task samples, finished outputs, watch events.

`Job.watch()` polls the coordinator and yields, in the order it learns them, the
job's snapshots when they change (`JobStatus`), its running tasks' CPU and memory
(`TaskSample`), and each input's captured output once the input finishes
(`TaskOutput`); it ends with the job's final status, after its last outputs.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runsurge.client.client import Client
    from runsurge.client.job import JobStatus

WATCH_POLL_SECONDS = 1.0


@dataclass(frozen=True)
class TaskSample:
    """A running task's CPU and memory at one moment, as the coordinator received it.

    `cpu_percent` is CPU time over wall time since the agent's previous sample
    (100 = one core busy); `memory_bytes` is the sandbox's memory in use.
    """

    id: int  # increasing; pass the last one to Job.samples(after=…) to poll
    index: int  # the input's index; -1 for a group's aggregate task
    attempt_id: int
    at: dt.datetime
    cpu_percent: float
    memory_bytes: int


@dataclass(frozen=True)
class TaskOutput:
    """One finished input's captured stdout and stderr (undecodable bytes replaced)."""

    index: int
    state: str  # SUCCEEDED, FAILED or CANCELLED
    text: str
    truncated: bool
    finished_at: dt.datetime


class OutputPosition:
    """How far a job's finished outputs have been read, so each is returned once.

    Outputs come in finishing order, paged by (finishing time, index) of the last one
    seen; the reading is the caller's (`OutputCursor` here, `_aio_monitoring`'s for
    the asyncio client), the paging is this.
    """

    def __init__(self) -> None:
        self.since: dt.datetime | None = None
        self.after_index = 0

    def advance(self, page: list[TaskOutput]) -> bool:
        """Move past `page`; False when it is empty (nothing newer finished)."""
        if not page:
            return False
        self.since, self.after_index = page[-1].finished_at, page[-1].index
        return True


class SamplePosition:
    """How far a job's task samples have been read: the last one's id."""

    def __init__(self, after: int = 0) -> None:
        self.after = after

    def advance(self, page: list[TaskSample]) -> bool:
        """Move past `page`; False when it is empty (no newer sample stored)."""
        if not page:
            return False
        self.after = page[-1].id
        return True


class OutputCursor(OutputPosition):
    """Follows a job's finished outputs: each is returned once, in finishing order."""

    def __init__(self, client: Client, job_id: str) -> None:
        super().__init__()
        self._client = client
        self._job_id = job_id

    def new(self) -> list[TaskOutput]:
        """Outputs of inputs that finished since the previous call (all, the first time)."""
        found: list[TaskOutput] = []
        while self.advance(
            page := self._client._task_outputs(self._job_id, self.since, self.after_index)
        ):
            found.extend(page)
        return found


class SampleCursor(SamplePosition):
    """Follows a job's task samples: each is returned once, oldest first."""

    def __init__(self, client: Client, job_id: str, after: int = 0) -> None:
        super().__init__(after)
        self._client = client
        self._job_id = job_id

    def new(self) -> list[TaskSample]:
        """Samples stored since the previous call (all kept ones, the first time)."""
        found: list[TaskSample] = []
        while self.advance(page := self._client._task_samples(self._job_id, self.after)):
            found.extend(page)
        return found


def watch(
    client: Client, job_id: str, poll_seconds: float = WATCH_POLL_SECONDS
) -> Iterator[JobStatus | TaskSample | TaskOutput]:
    """The events of `Job.watch()`: see the module docstring."""
    samples = SampleCursor(client, job_id)
    outputs = OutputCursor(client, job_id)
    last: JobStatus | None = None
    while True:
        status = client._get_job(job_id)
        if status.done:
            # Read after the final status, so nothing stored before it is missed; the
            # final status comes last, after the last samples and outputs.
            yield from samples.new()
            yield from outputs.new()
            yield status
            return
        if status != last:
            yield status
            last = status
        yield from samples.new()
        yield from outputs.new()
        time.sleep(poll_seconds)
