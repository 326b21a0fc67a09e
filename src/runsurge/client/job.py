"""Job handles and the plain types the SDK returns."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from runsurge.client import monitoring
from runsurge.client.billing import Invoice
from runsurge.client.monitoring import TaskOutput, TaskSample
from runsurge.errors import JobFailed, RunSurgeError

if TYPE_CHECKING:
    from runsurge.client.client import Client

FINAL_STATES = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})
RESULT_PAGE = 500


@dataclass(frozen=True)
class TaskCounts:
    """How many of a job's tasks are in each state."""

    total: int
    queued: int
    running: int
    succeeded: int
    failed: int
    cancelled: int


@dataclass(frozen=True)
class TaskErrorInfo:
    """Why a task failed: the kind (SCRIPT_ERROR, TIMEOUT, …) and the script's exception."""

    kind: str
    type: str
    message: str
    traceback: str

    def describe(self) -> str:
        """One readable paragraph, traceback included."""
        head = (
            f"{self.kind}: {self.type}: {self.message}"
            if self.type
            else f"{self.kind}: {self.message}"
        )
        return head + (f"\n{self.traceback.rstrip()}" if self.traceback else "")


@dataclass(frozen=True)
class JobStatus:
    """A snapshot of a job."""

    id: str
    kind: str  # "single" | "group"
    state: str  # SUBMITTING, QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED
    name: str
    script_sha256: str
    tasks: TaskCounts
    created_at: dt.datetime | None
    finished_at: dt.datetime | None
    error: TaskErrorInfo | None
    # A finished single job's result or a group's aggregate, when small enough to inline.
    result: dict[str, Any] | None
    aggregate: list[str]  # a group's built-in reducers, FIELD=REDUCER
    aggregate_script: bool  # a group aggregated by the script's own aggregate()
    on_error: str  # "continue" or "fail-fast"
    waiting_reason: str = ""  # why queued work cannot start yet (a task too large), if so
    memory_limit_bytes: int = 0  # the per-task memory limit it was submitted with (0: none)
    # The per-job options it was submitted with (0: the coordinator's own limit).
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0
    max_attempts: int = 0
    priority: int = 0
    labels: dict[str, str] = field(default_factory=dict)
    idempotency_key: str = ""

    @property
    def done(self) -> bool:
        """True once the job can no longer change."""
        return self.state in FINAL_STATES

    def to_json(self) -> dict[str, Any]:
        """The stable JSON form used by `runsurge … --json` (see docs/cli.md)."""
        data = asdict(self)
        for key in ("created_at", "finished_at"):
            value = getattr(self, key)
            data[key] = value.isoformat() if value else None
        return data


@dataclass(frozen=True)
class TaskMemory:
    """One input's memory: what it reserves, its peak, where it ran out of memory before."""

    reservation_bytes: int  # its current (or last) attempt's limit
    peak_bytes: int  # measured by the kernel in its latest finished attempt (0: none yet)
    out_of_memory_at_bytes: list[int]  # reservations at which earlier attempts were killed
    attempts: int
    # The estimate behind the reservation (0: none), which evidence decided it
    # ("default", "static", "history", "probes" or "declared"; docs/estimator.md),
    # and how far the estimator trusts it (0..1).
    estimate_bytes: int = 0
    estimate_method: str = "default"
    estimate_confidence: float = 0.0


@dataclass(frozen=True)
class InputResult:
    """One input's outcome in a group: its result, or why it has none."""

    index: int
    state: str
    result: dict[str, Any] | None
    error: TaskErrorInfo | None
    memory: TaskMemory | None = None

    @property
    def ok(self) -> bool:
        """True when the input produced a result."""
        return self.state == "SUCCEEDED"

    def to_json(self) -> dict[str, Any]:
        """The JSON line `runsurge result --per-input` prints."""
        return asdict(self)


def job_failure(status: JobStatus) -> JobFailed:
    """What a final job that did not succeed raises where its result was expected."""
    error = status.error
    state = status.state.lower()
    return JobFailed(
        f"job {status.id} {state}: {error.describe() if error else state}",
        job_id=status.id,
        index=0 if status.kind == "single" else None,
        kind=error.kind if error else status.state,
        error_type=error.type if error else "",
        message=error.message if error else state,
        traceback=error.traceback if error else "",
    )


class TaskLogs(str):
    """One input's captured stdout and stderr, as text (undecodable bytes replaced).

    A `str`, so it prints and searches like one; `truncated` says the output was
    longer than what is kept, `state` is the task's state when it was read.
    """

    truncated: bool
    state: str

    def __new__(cls, text: str, truncated: bool = False, state: str = "") -> TaskLogs:
        logs = super().__new__(cls, text)
        logs.truncated = truncated
        logs.state = state
        return logs


class Job:
    """A handle on a submitted job (single or group)."""

    def __init__(self, client: Client, job_id: str, status: JobStatus | None = None) -> None:
        self._client = client
        self.id = job_id
        self._last = status

    def __repr__(self) -> str:
        state = self._last.state if self._last else "?"
        return f"<Job {self.id} {state}>"

    def status(self) -> JobStatus:
        """The job's current state (one call to the coordinator)."""
        self._last = self._client._get_job(self.id)
        return self._last

    def wait(
        self,
        timeout: float | None = None,
        on_update: Callable[[JobStatus], None] | None = None,
    ) -> JobStatus:
        """Block until the job is final (or `timeout` seconds pass); return its status.

        Raises TimeoutError when the timeout passes first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        for status in self._client._watch_job(self.id, deadline):
            self._last = status
            if on_update is not None:
                on_update(status)
            if status.done:
                return status
        raise TimeoutError(f"job {self.id} still {self._last.state if self._last else '?'}")

    def result(self, timeout: float | None = None) -> dict[str, Any]:
        """Wait, then return a single job's result or a group's aggregate.

        Raises JobFailed with the error when the job did not succeed, and
        RunSurgeError for a group that declared no aggregate (use `results()`).
        """
        status = self._last if self._last and self._last.done else self.wait(timeout)
        if status.state != "SUCCEEDED":
            raise job_failure(status)
        if status.result is not None:
            return status.result
        if status.kind == "group":
            if not (status.aggregate or status.aggregate_script):
                raise RunSurgeError(
                    f"group {self.id} declared no aggregate; iterate job.results() instead"
                )
            raw = self._client._fetch_result(self.id, 0, aggregate=True)
        else:
            raw = self._client._fetch_result(self.id, 0)
        parsed: dict[str, Any] = json.loads(raw)
        return parsed

    def results(self, start: int = 0) -> Iterator[InputResult]:
        """Every input's outcome in input order (streamed; call after the job is done).

        Called earlier, inputs not yet final come with their current state and no
        result; `as_completed()` waits for each instead.
        """
        yield from self._client._task_results(self.id, start)

    def as_completed(self) -> Iterator[InputResult]:
        """Each input's final outcome as soon as it is recorded, in the order they finish.

        Ends after the last input (at once, with every outcome, for a finished job).
        A failed input is yielded like the others (`ok` false, `error` set), never
        raised. The stream resumes by itself after a dropped connection or a
        coordinator restart, missing and repeating nothing; an outage longer than a
        minute raises CoordinatorUnreachable.
        """
        yield from self._client._finished_results(self.id)

    def logs(
        self, index: int = 0, *, follow: bool = False, timeout: float | None = None
    ) -> TaskLogs:
        """The captured stdout/stderr of input `index` (0 for a single job).

        Empty until an attempt at it finishes; with `follow`, waits until the input is
        final first (TimeoutError after `timeout` seconds). Raises NotFound for an
        index the job does not have.
        """
        logs = self._client._task_logs(self.id, index)
        if not follow or logs.state in FINAL_STATES:
            return logs
        deadline = None if timeout is None else time.monotonic() + timeout
        # Each change of the job may be this input finishing: look again at each one.
        for status in self._client._watch_job(self.id, deadline):
            logs = self._client._task_logs(self.id, index)
            if logs.state in FINAL_STATES or status.done:
                return logs
        raise TimeoutError(f"input {index} of job {self.id} still {logs.state.lower()}")

    def outputs(self, follow: bool = False) -> Iterator[TaskOutput]:
        """Each finished input's captured output, in the order the inputs finished.

        Without `follow`, those finished so far; with it, also the rest as they
        finish, until the job is final.
        """
        cursor = monitoring.OutputCursor(self._client, self.id)
        while True:
            done = self._client._get_job(self.id).done  # before reading: none is missed
            yield from cursor.new()
            if done or not follow:
                return
            time.sleep(monitoring.WATCH_POLL_SECONDS)

    def samples(self, after: int = 0) -> list[TaskSample]:
        """CPU and memory samples of the job's tasks with an id above `after`, oldest first.

        The coordinator keeps samples for a limited time and number
        (docs/operations.md); poll with the last sample's id to get only new ones.
        """
        return monitoring.SampleCursor(self._client, self.id, after).new()

    def watch(self, poll_seconds: float = 1.0) -> Iterator[JobStatus | TaskSample | TaskOutput]:
        """Follow the job until it is final, yielding what happens as it is learnt.

        Yields a `JobStatus` whenever the job changes (the first at once), a
        `TaskSample` for each CPU/memory sample of a running task, and a `TaskOutput`
        when an input finishes, carrying its captured output. Polls every
        `poll_seconds`; the last event is the final status, after the last outputs.
        """
        for event in monitoring.watch(self._client, self.id, poll_seconds):
            if isinstance(event, JobStatus):
                self._last = event
            yield event

    def invoice(self) -> Invoice:
        """What the job's attempts were charged so far: per task and in total."""
        return self._client._invoice(self.id)

    def cancel(self) -> JobStatus:
        """Stop the job: queued tasks never run, running ones are killed."""
        self._last = self._client._cancel_job(self.id)
        return self._last
