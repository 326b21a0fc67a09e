"""`Client(local=True)`: the SDK with no coordinator, for quick iteration on a script.

Everything a `Client` offers works the same way (submit, groups, `map` futures,
`Pool`, results as they finish, logs, cancel) but each input runs on this machine,
through the contributor's harness, in the sandbox where the host has it. What differs
is listed in docs/sdk.md ("Local mode"). Loaded only when asked for: `import
runsurge.client` stays free of the sandbox and the coordinator's modules.
"""

from __future__ import annotations

import datetime as dt
import os
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from typing import Any

from runsurge.client._local_engine import EngineOptions, LocalEngine
from runsurge.client._upload import InputSource
from runsurge.client.billing import Balance, Invoice
from runsurge.client.client import Client
from runsurge.client.job import InputResult, Job, JobStatus, TaskLogs
from runsurge.client.monitoring import TaskOutput, TaskSample
from runsurge.config import parse_size
from runsurge.errors import NotFound, RunSurgeError, SandboxUnavailable
from runsurge.proto.v1 import consumer_pb2
from runsurge.sandbox.choose import best_runner

NOT_BILLED = "local jobs run on this machine and are not billed: there is no balance or invoice"


class NotSandboxedWarning(RuntimeWarning):
    """A local client runs scripts as plain subprocesses: this host cannot sandbox."""


class LocalClient(Client):
    """A client whose jobs run here (made by `Client(local=True)`).

    `workers` inputs run at once (default: this machine's cores), and never more than
    `memory_budget` of memory limits together (bytes or a size such as "8GiB";
    default: 80 % of this machine's RAM): an input waits until its job's limit fits,
    and a job whose limit alone is larger is refused. `scan` applies the
    coordinator's Semgrep rules to each script as well as its structure check.
    `require_sandbox` raises SandboxUnavailable where this host lacks a sandbox
    layer, instead of running scripts as plain subprocesses after a
    NotSandboxedWarning.
    """

    def __init__(
        self,
        coordinator: str | None = None,
        token: str | None = None,
        *,
        local: bool = True,
        workers: int | None = None,
        memory_budget: int | str | None = None,
        scan: bool = False,
        require_sandbox: bool = False,
        **connection: Any,
    ) -> None:
        # The connection's own settings (settings=, timeout=, tls_*=) mean nothing here.
        del connection
        if coordinator is not None or token is not None:
            raise ValueError("local=True runs without a coordinator: give no coordinator or token")
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        runner, missing = best_runner()
        if missing and require_sandbox:
            raise SandboxUnavailable(f"this host cannot sandbox a local run: {missing}")
        if missing:
            warnings.warn(
                f"not sandboxed: this host lacks {missing}; local scripts run as plain "
                "subprocesses with your permissions",
                NotSandboxedWarning,
                stacklevel=3,
            )
        self.address = "local"
        self.tls = False
        options = EngineOptions(workers=workers or os.cpu_count() or 1, scan=scan)
        if memory_budget is not None:
            options = replace(options, memory_budget=parse_size(memory_budget))
        self._engine = LocalEngine(runner, options)

    @property
    def isolation_level(self) -> str:
        """The sandbox layers local runs get ("none" when not sandboxed)."""
        return self._engine.isolation_level

    def close(self) -> None:
        """Cancel unfinished jobs, close the sandboxes, remove the stored inputs."""
        self._engine.close()

    def _submit(self, spec: consumer_pb2.JobSpec, inputs: Iterable[InputSource]) -> Job:
        status = self._engine.submit(spec, inputs)
        return Job(self, status.id, status)

    def jobs(
        self, limit: int = 50, state: str | Sequence[str] = (), name: str = ""
    ) -> list[JobStatus]:
        """This client's jobs, newest first, filtered as `Client.jobs` filters."""
        states = {state} if isinstance(state, str) else set(state)
        found = [
            status
            for status in self._engine.jobs()
            if (not states or status.state in states) and name.lower() in status.name.lower()
        ]
        return found[:limit]

    def contributors(self) -> list[dict[str, Any]]:
        """This machine, the only contributor a local client has."""
        running = sum(status.tasks.running for status in self._engine.jobs())
        return [
            {
                "id": "local",
                "name": "this machine",
                "online": True,
                "cores": self._engine.workers,
                "memory_bytes": self._engine.memory.budget_bytes,
                "isolation_level": self.isolation_level,
                "insecure": self.isolation_level == "none",
                "running_tasks": running,
                "state": "ONLINE",
                "state_reason": "",
                "claimed_factor": "1.000000",
                "machine_factor": "1.000000",
                "factor_flagged": False,
                "factor_note": "",
                "last_seen": dt.datetime.now(dt.UTC).isoformat(),
                "load_1m": 0.0,
                "free_memory_bytes": 0,
                "cpu_percent": 0.0,
                "disk_free_bytes": 0,
            }
        ]

    def balance(self) -> Balance:
        """Local jobs are not billed: raises RunSurgeError."""
        raise RunSurgeError(NOT_BILLED)

    # -- used by Job -----------------------------------------------------------------

    def _invoice(self, job_id: str) -> Invoice:
        self._engine.status(job_id)  # NotFound first, for a job this client lacks
        raise RunSurgeError(NOT_BILLED)

    def _get_job(self, job_id: str) -> JobStatus:
        return self._engine.status(job_id)

    def _cancel_job(self, job_id: str) -> JobStatus:
        return self._engine.cancel(job_id)

    def _watch_job(self, job_id: str, deadline: float | None) -> Iterator[JobStatus]:
        return self._engine.watch(job_id, deadline)

    def _fetch_result(self, job_id: str, index: int, aggregate: bool = False) -> bytes:
        job = self._engine.job(job_id)
        with self._engine.lock:
            raw = job.aggregate_json if aggregate else self._engine.task(job_id, index).result_json
        if raw is None:
            what = "an aggregate" if aggregate else f"a result for input {index}"
            raise NotFound(f"job {job_id} has no {what} (yet)")
        return raw

    def _task_logs(self, job_id: str, index: int) -> TaskLogs:
        task = self._engine.task(job_id, index)
        with self._engine.lock:
            text = task.logs.decode("utf-8", "replace")
            return TaskLogs(text, task.logs_truncated, task.state)

    def _task_results(self, job_id: str, start: int) -> Iterator[InputResult]:
        return iter(self._engine.results(job_id, start))

    def _finished_results(self, job_id: str) -> Iterator[InputResult]:
        return self._engine.finished_results(job_id)

    def _task_samples(self, job_id: str, after: int) -> list[TaskSample]:
        self._engine.status(job_id)
        return []  # local runs keep no samples

    def _task_outputs(
        self, job_id: str, since: dt.datetime | None, after_index: int
    ) -> list[TaskOutput]:
        job = self._engine.job(job_id)
        with self._engine.lock:
            return job.outputs_after(since, after_index)
