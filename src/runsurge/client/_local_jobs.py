"""The state of a local job and its inputs, and how it reads as the SDK's types.

The rules that settle a job follow the coordinator's (`coordinator/jobs.settle_job`):
a single job has its input's outcome; a group where no input succeeded fails with
ALL_FAILED; a fail-fast group fails at its first failed input, the rest cancelled;
a group with an aggregate step succeeds when its aggregate does. Every method is
called under the engine's lock.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections import Counter
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from runsurge.client.job import (
    FINAL_STATES,
    InputResult,
    JobStatus,
    TaskCounts,
    TaskErrorInfo,
    TaskMemory,
)
from runsurge.client.monitoring import TaskOutput
from runsurge.kinds import JobKind
from runsurge.proto.v1 import consumer_pb2
from runsurge.sandbox.outcome import Outcome
from runsurge.sandbox.policy import SandboxPolicy


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class LocalTask:
    """One input: where it is stored, and its outcome once it has one."""

    index: int
    input: Path
    reservation_bytes: int
    state: str = "QUEUED"
    result_json: bytes | None = None
    error: TaskErrorInfo | None = None
    logs: bytes = b""
    logs_truncated: bool = False
    peak_bytes: int = 0
    finished_at: dt.datetime | None = None

    def finish(self, outcome: Outcome) -> None:
        """Record a run's outcome (the input is final afterwards)."""
        self.state = "SUCCEEDED" if outcome.ok else "FAILED"
        self.result_json = outcome.result_json if outcome.ok else None
        error = outcome.error
        self.error = (
            None
            if outcome.ok
            else TaskErrorInfo(
                outcome.kind.value,
                error.type if error else "",
                error.message if error else outcome.kind.value.lower().replace("_", " "),
                error.traceback if error else "",
            )
        )
        self.logs, self.logs_truncated = outcome.logs, outcome.logs_truncated
        self.peak_bytes = outcome.usage.peak_memory_bytes
        self.finished_at = _now()

    def cancel(self) -> None:
        """The input will not run, or its run was stopped."""
        self.state = "CANCELLED"
        self.finished_at = _now()

    def outcome(self) -> InputResult:
        """The input's outcome as `Job.results()` gives it."""
        result = json.loads(self.result_json) if self.result_json is not None else None
        ran = self.state in ("SUCCEEDED", "FAILED")
        memory = TaskMemory(self.reservation_bytes, self.peak_bytes, [], 1 if ran else 0)
        return InputResult(self.index, self.state, result, self.error, memory)

    def output(self) -> TaskOutput:
        """The input's captured output, as `Job.outputs()` gives it."""
        assert self.finished_at is not None
        text = self.logs.decode("utf-8", "replace")
        return TaskOutput(self.index, self.state, text, self.logs_truncated, self.finished_at)


@dataclass
class LocalJob:
    """A job's spec, inputs and state; `version` grows with every change."""

    id: str
    spec: consumer_pb2.JobSpec
    kind: JobKind
    script: Path
    script_sha256: str
    policy: SandboxPolicy
    tasks: list[LocalTask]
    created_at: dt.datetime = field(default_factory=_now)
    state: str = "QUEUED"
    finished_at: dt.datetime | None = None
    error: TaskErrorInfo | None = None
    aggregate_json: bytes | None = None
    finished: list[int] = field(default_factory=list)  # input indexes, in finishing order
    stop: threading.Event = field(default_factory=threading.Event)
    futures: list[Future[None]] = field(default_factory=list)
    settling: bool = False  # a worker is aggregating or settling it
    version: int = 0
    # Inputs per state, kept as they move: a status or a settle check reads these,
    # never all the inputs (a group may have a million).
    counts: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.counts.update(t.state for t in self.tasks)

    @property
    def label(self) -> str:
        """How its runs are named in logs."""
        return f"local job={self.id}"

    @property
    def aggregates(self) -> bool:
        return bool(self.spec.aggregate) or self.spec.aggregate_script

    @property
    def fail_fast(self) -> bool:
        return self.spec.on_error == consumer_pb2.ON_ERROR_FAIL_FAST

    def inputs_final(self) -> bool:
        return self.counts["QUEUED"] + self.counts["RUNNING"] == 0

    def _moved(self, before: str, task: LocalTask) -> None:
        self.counts[before] -= 1
        self.counts[task.state] += 1

    def successful(self) -> list[LocalTask]:
        """Inputs with a result, in input order."""
        return [t for t in self.tasks if t.state == "SUCCEEDED"]

    def start(self, task: LocalTask) -> None:
        task.state = "RUNNING"
        self._moved("QUEUED", task)
        if self.state == "QUEUED":
            self.state = "RUNNING"

    def record(self, task: LocalTask, outcome: Outcome) -> None:
        """A run ended: keep its outcome unless the input was cancelled meanwhile."""
        if task.state == "RUNNING":
            task.finish(outcome)
            self._moved("RUNNING", task)
            self.finished.append(task.index)

    def stop_unfinished(self) -> None:
        """Cancel every input not final yet, and stop the runs in progress."""
        self.stop.set()
        for task, future in zip(self.tasks, self.futures, strict=False):
            if task.state not in FINAL_STATES:
                before = task.state
                task.cancel()
                self._moved(before, task)
                self.finished.append(task.index)
                future.cancel()

    def fail_at(self, task: LocalTask) -> None:
        """A fail-fast group's first failed input fails the group."""
        error = task.error
        detail = f"{error.kind}: {error.type}: {error.message}" if error else task.state
        self._end(
            "FAILED",
            TaskErrorInfo(
                "FAIL_FAST",
                "",
                f"input {task.index} failed ({detail}); the remaining inputs were "
                "cancelled (--on-error fail-fast)",
                "",
            ),
        )
        self.stop_unfinished()

    def cancel(self) -> None:
        if self.state not in FINAL_STATES:
            self._end("CANCELLED", None)
            self.stop_unfinished()

    def settle(self, aggregate: bytes | None, aggregate_error: TaskErrorInfo | None) -> None:
        """Every input is final: the job's own state follows, as on a coordinator."""
        if self.state in FINAL_STATES:
            return
        if self.kind is JobKind.SINGLE:
            task = self.tasks[0]
            self._end("SUCCEEDED" if task.state == "SUCCEEDED" else "FAILED", task.error)
        elif not self.successful():
            self._end(
                "FAILED", TaskErrorInfo("ALL_FAILED", "", "every input of the group failed", "")
            )
        elif aggregate_error is not None:
            self._end("FAILED", aggregate_error)
        else:
            self.aggregate_json = aggregate
            self._end("SUCCEEDED", None)

    def _end(self, state: str, error: TaskErrorInfo | None) -> None:
        self.state, self.error, self.finished_at = state, error, _now()

    def outputs_after(self, since: dt.datetime | None, after_index: int) -> list[TaskOutput]:
        """Finished inputs' outputs after the cursor (finish time, index), in that order."""
        done = sorted(
            (t for t in self.tasks if t.finished_at is not None),
            key=lambda t: (t.finished_at, t.index),
        )
        return [
            t.output()
            for t in done
            if since is None or (t.finished_at, t.index) > (since, after_index)
        ]


def job_status(job: LocalJob) -> JobStatus:
    """The job as `Job.status()` gives it."""
    counts = job.counts
    spec = job.spec
    result = None
    if job.state == "SUCCEEDED":
        raw = job.tasks[0].result_json if job.kind is JobKind.SINGLE else job.aggregate_json
        result = json.loads(raw) if raw is not None else None
    return JobStatus(
        id=job.id,
        kind=job.kind.value,
        state=job.state,
        name=spec.name,
        script_sha256=job.script_sha256,
        tasks=TaskCounts(
            len(job.tasks),
            counts["QUEUED"],
            counts["RUNNING"],
            counts["SUCCEEDED"],
            counts["FAILED"],
            counts["CANCELLED"],
        ),
        created_at=job.created_at,
        finished_at=job.finished_at,
        error=job.error,
        result=result,
        aggregate=list(spec.aggregate),
        aggregate_script=spec.aggregate_script,
        on_error="fail-fast" if job.fail_fast else "continue",
        memory_limit_bytes=spec.memory_limit_bytes,
        wall_seconds=spec.wall_seconds,
        cpu_seconds=spec.cpu_seconds,
        max_attempts=spec.max_attempts,
        priority=spec.priority,
        labels=dict(sorted(spec.labels.items())),
        idempotency_key=spec.idempotency_key,
    )
