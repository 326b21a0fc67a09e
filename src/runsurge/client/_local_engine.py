"""The engine behind `Client(local=True)`: jobs run on this machine, with no coordinator.

A submission gets the coordinator's own checks: its options are validated by the same
code (`job_options`, `reducers.parse_specs`), its script's structure by the same check
and, when asked, by the same Semgrep rules. Its inputs then run on a pool of worker
threads, each in the sandbox where this host has it, through a warm session per job
as a contributor keeps one (each input a fresh fork of the script as imported, so
what one input changes the next does not see, there as here). A group is aggregated
as the coordinator does it: built-in reducers over the successful results in input
order, or the script's `aggregate()` in the sandbox.

What differs from a coordinator is deliberate and listed in docs/sdk.md: an attempt is
never retried (a local run is for seeing failures), there is no bill, no memory
estimate (each task runs under its job's `memory`, or the default limit) and no
samples, and jobs live in memory until the client closes.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from runsurge.client._local_jobs import LocalJob, LocalTask, job_status
from runsurge.client._local_memory import MemoryBudget, TooLarge, default_budget
from runsurge.client._upload import InputSource, open_input
from runsurge.client.job import FINAL_STATES, InputResult, JobStatus, TaskErrorInfo
from runsurge.contributor.warm import WarmPool
from runsurge.coordinator.job_options import JobOptions, OptionMaxima
from runsurge.coordinator.reducers import AggregationError, parse_specs, reduce_results
from runsurge.errors import InvalidRequest, NotFound
from runsurge.kinds import JobKind, OutcomeKind, TaskKind
from runsurge.proto.v1 import consumer_pb2
from runsurge.sandbox.outcome import Outcome, ScriptError
from runsurge.sandbox.policy import SandboxPolicy
from runsurge.sandbox.runner import RunRequest, TaskRunner
from runsurge.scan.script_check import check_script

CHUNK = 1024 * 1024
MIN_TASK_MEMORY = 32 * 1024 * 1024  # as on a coordinator: below this a task cannot start
MAX_ATTEMPTS = 3  # the coordinator's default maximum, which a job's option may not pass


@dataclass(frozen=True)
class EngineOptions:
    """How the local engine runs: its worker count and the checks a script gets."""

    workers: int
    scan: bool = False  # also apply the coordinator's Semgrep rules
    defaults: SandboxPolicy = field(default_factory=SandboxPolicy)
    # What running inputs may reserve at once (their jobs' memory limits); 0: no limit.
    memory_budget: int = field(default_factory=default_budget)


class LocalEngine:
    """Runs jobs' inputs on worker threads; every method is safe from any thread."""

    def __init__(self, runner: TaskRunner, options: EngineOptions) -> None:
        self.isolation_level = runner.isolation_level
        self.workers = options.workers
        self._runner = runner
        self._options = options
        self._pool = ThreadPoolExecutor(options.workers, thread_name_prefix="runsurge-local")
        self._warm = WarmPool(max_idle=options.workers, idle_seconds=30.0)
        self.memory = MemoryBudget(options.memory_budget)
        self._jobs: dict[str, LocalJob] = {}  # in submission order
        self._by_key: dict[str, str] = {}  # idempotency key -> job id
        self._changed = threading.Condition()
        self._root = Path(tempfile.mkdtemp(prefix="runsurge-local-"))
        self._closed = False

    # -- submitting ------------------------------------------------------------------

    def submit(self, spec: consumer_pb2.JobSpec, inputs: Iterable[InputSource]) -> JobStatus:
        """Check `spec` as the coordinator would, store the inputs, queue every input."""
        if self._closed:
            raise InvalidRequest("this local client is closed")
        kind = JobKind.GROUP if spec.kind == consumer_pb2.JOB_KIND_GROUP else JobKind.SINGLE
        self._check(spec, kind)
        with self._changed:
            replayed = self._by_key.get(spec.idempotency_key) if spec.idempotency_key else None
        if replayed is not None:
            return self.status(replayed)
        job = self._create(spec, kind, inputs)
        with self._changed:
            if spec.idempotency_key:
                self._by_key.setdefault(spec.idempotency_key, job.id)
            self._jobs[job.id] = job
            job.futures = [self._pool.submit(self._run_input, job, t) for t in job.tasks]
            return job_status(job)

    def _check(self, spec: consumer_pb2.JobSpec, kind: JobKind) -> None:
        """The coordinator's refusals, with its messages (InvalidRequest, ScriptRejected)."""
        defaults = self._options.defaults
        JobOptions.of_spec(spec).validate(
            OptionMaxima(defaults.wall_seconds, defaults.cpu_seconds, MAX_ATTEMPTS)
        )
        if 0 < spec.memory_limit_bytes < MIN_TASK_MEMORY:
            raise InvalidRequest(
                f"memory limit of {spec.memory_limit_bytes} bytes is below the 32 MiB a task "
                "needs to start (--memory)"
            )
        if kind is JobKind.SINGLE and (spec.aggregate or spec.aggregate_script):
            raise InvalidRequest("aggregation applies to groups; a single job has one result")
        if spec.aggregate_script and spec.aggregate:
            raise InvalidRequest("choose the script's aggregate() or built-in reducers, not both")
        parse_specs(spec.aggregate)
        try:
            self.memory.check(self._policy(spec).memory_bytes)
        except TooLarge as exc:
            raise InvalidRequest(f"this job cannot run here: {exc}") from None
        required = ("process", "aggregate") if spec.aggregate_script else ("process",)
        check_script(spec.script, spec.script_name or "script.py", required)
        if self._options.scan:
            from runsurge.scan import MemoryVerdictCache, ScanGate, SemgrepCoreEngine

            ScanGate(SemgrepCoreEngine(), MemoryVerdictCache(max_entries=8)).enforce(spec.script)

    def _create(
        self, spec: consumer_pb2.JobSpec, kind: JobKind, inputs: Iterable[InputSource]
    ) -> LocalJob:
        """The job with its script and inputs stored in its own folder."""
        job_id = uuid.uuid4().hex
        folder = self._root / job_id
        folder.mkdir()
        policy = self._policy(spec)
        try:
            script = folder / (Path(spec.script_name).name or "script.py")
            script.write_bytes(spec.script)
            paths = list(_store_inputs(inputs, folder))
            if kind is JobKind.SINGLE and len(paths) != 1:
                raise InvalidRequest(f"a single job takes exactly one input, not {len(paths)}")
            if not paths:
                raise InvalidRequest("a group needs at least one input")
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        tasks = [LocalTask(i, path, policy.memory_bytes) for i, path in enumerate(paths)]
        sha = hashlib.sha256(spec.script).hexdigest()
        return LocalJob(job_id, spec, kind, script, sha, policy, tasks)

    def _policy(self, spec: consumer_pb2.JobSpec) -> SandboxPolicy:
        defaults = self._options.defaults
        return SandboxPolicy(
            memory_bytes=spec.memory_limit_bytes or defaults.memory_bytes,
            wall_seconds=spec.wall_seconds or defaults.wall_seconds,
            cpu_seconds=spec.cpu_seconds or defaults.cpu_seconds,
        )

    # -- running ---------------------------------------------------------------------

    def _run_input(self, job: LocalJob, task: LocalTask) -> None:
        """A worker's turn at one input: wait for its memory, run it, record it, and
        settle the job if it was the last."""
        reservation = job.policy.memory_bytes
        if not self.memory.reserve(reservation, job.stop):
            return  # cancelled while it waited for memory
        try:
            with self._changed:
                if task.state != "QUEUED":
                    return  # cancelled before a worker reached it
                job.start(task)
                self._touch(job)
            try:
                outcome = self._run_warm(job, task)
            except Exception as exc:  # the harness itself failed: not the script's fault
                outcome = Outcome(
                    OutcomeKind.INFRASTRUCTURE, error=ScriptError(type(exc).__name__, str(exc))
                )
        finally:
            self.memory.release(reservation)
        with self._changed:
            job.record(task, outcome)
            if job.kind is JobKind.GROUP and job.fail_fast and task.state == "FAILED":
                job.fail_at(task)
            self._touch(job)
            settle = job.inputs_final() and job.state not in FINAL_STATES and not job.settling
            job.settling = job.settling or settle
        if settle:
            self._settle(job)
        elif job.state in FINAL_STATES:
            self._close_sessions(job)

    def _run_warm(self, job: LocalJob, task: LocalTask) -> Outcome:
        """Run in an idle warm session of this job when there is one, else open one."""
        key = (job.id, job.script_sha256)
        taken = self._warm.take(key, job.policy)
        if taken is not None:
            session = taken[0]
        else:
            session = self._runner.open_session(job.script, TaskKind.PROCESS, job.policy, job.label)
        try:
            return session.run(task.input, job.policy, job.stop, f"{job.label} input={task.index}")
        finally:
            self._warm.give_back(key, session, job.policy)

    def _settle(self, job: LocalJob) -> None:
        """Every input is final: aggregate a group that asks for it, then finish the job."""
        aggregate, error = None, None
        if job.kind is JobKind.GROUP and job.aggregates and job.successful():
            aggregate, error = self._aggregate(job)
        with self._changed:
            job.settle(aggregate, error)
            self._touch(job)
        self._close_sessions(job)

    def _aggregate(self, job: LocalJob) -> tuple[bytes | None, TaskErrorInfo | None]:
        """The group's aggregate, or why it has none (error kind AGGREGATION)."""
        results = [(t.index, json.loads(t.result_json or b"{}")) for t in job.successful()]
        if not job.spec.aggregate_script:
            try:
                return reduce_results(job.spec.aggregate, results), None
            except AggregationError as exc:
                return None, TaskErrorInfo("AGGREGATION", "", str(exc), "")
        lines = job.script.parent / "aggregate-input.jsonl"
        lines.write_text("".join(json.dumps(result) + "\n" for _, result in results))
        request = RunRequest(job.script, lines, job.policy, TaskKind.AGGREGATE, job.label)
        outcome = self._runner.run(request, job.stop)
        if outcome.ok:
            return outcome.result_json, None
        why = outcome.error
        detail = f"{why.type}: {why.message}" if why else outcome.kind.value
        message = f"aggregate() failed: {outcome.kind.value}: {detail}"
        return None, TaskErrorInfo("AGGREGATION", "", message, why.traceback if why else "")

    def _touch(self, job: LocalJob) -> None:
        """(Under the lock.) The job changed: wake whoever watches it."""
        job.version += 1
        self._changed.notify_all()

    # -- cancelling and closing ------------------------------------------------------

    def cancel(self, job_id: str) -> JobStatus:
        """Queued inputs never run, running ones are killed; a final job stays as it is."""
        job = self._job(job_id)
        with self._changed:
            job.cancel()
            self._touch(job)
            status = job_status(job)
        self._close_sessions(job)
        return status

    def _close_sessions(self, job: LocalJob) -> None:
        while (taken := self._warm.take((job.id, job.script_sha256), job.policy)) is not None:
            taken[0].close()

    def close(self) -> None:
        """Cancel what is unfinished, close the sandboxes, remove inputs and results."""
        with self._changed:
            if self._closed:
                return
            self._closed = True
            for job in self._jobs.values():
                job.cancel()
                self._touch(job)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._warm.close_all()
        shutil.rmtree(self._root, ignore_errors=True)

    # -- reading ---------------------------------------------------------------------

    def _job(self, job_id: str) -> LocalJob:
        job = self._jobs.get(job_id)
        if job is None:
            raise NotFound(f"job {job_id} not found (a local client knows only its own jobs)")
        return job

    def status(self, job_id: str) -> JobStatus:
        """A snapshot of the job."""
        job = self._job(job_id)
        with self._changed:
            return job_status(job)

    def jobs(self) -> list[JobStatus]:
        """Every job of this client, newest first."""
        with self._changed:
            return [job_status(job) for job in reversed(self._jobs.values())]

    def watch(self, job_id: str, deadline: float | None) -> Iterator[JobStatus]:
        """The job's snapshots as it changes (the first at once), until final or `deadline`."""
        job = self._job(job_id)
        seen = -1
        while True:
            with self._changed:
                while job.version == seen:
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        return
                    self._changed.wait(left)
                seen, status = job.version, job_status(job)
            yield status
            if status.done:
                return

    def finished_results(self, job_id: str) -> Iterator[InputResult]:
        """Each input's final outcome in finishing order, each once, as they finish."""
        job = self._job(job_id)
        position = 0
        while True:
            with self._changed:
                while position == len(job.finished) and not job.inputs_final():
                    self._changed.wait()
                ready = [job.tasks[i].outcome() for i in job.finished[position:]]
                position += len(ready)
                last = job.inputs_final() and position == len(job.finished)
            yield from ready
            if last:
                return

    def results(self, job_id: str, start: int) -> list[InputResult]:
        """Each input's current outcome in input order, from `start` on."""
        job = self._job(job_id)
        with self._changed:
            return [t.outcome() for t in job.tasks[max(start, 0) :]]

    def task(self, job_id: str, index: int) -> LocalTask:
        """One input of a job (NotFound for an index it does not have)."""
        job = self._job(job_id)
        if not 0 <= index < len(job.tasks):
            raise NotFound(f"job {job_id} has no input number {index}")
        return job.tasks[index]

    def job(self, job_id: str) -> LocalJob:
        """The job's record; read it under `lock`."""
        return self._job(job_id)

    @property
    def lock(self) -> threading.Condition:
        """Held while a job's record changes."""
        return self._changed


def _store_inputs(inputs: Iterable[InputSource], folder: Path) -> Iterator[Path]:
    """Copy each input into a file of its own, a chunk at a time."""
    for index, item in enumerate(inputs):
        path = folder / f"input-{index}"
        stream = open_input(item)
        try:
            with open(path, "wb") as out:
                while chunk := stream.read(CHUNK):
                    out.write(chunk)
        finally:
            stream.close()
        yield path
