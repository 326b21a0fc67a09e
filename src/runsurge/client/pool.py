"""`Pool`: the shape of `multiprocessing.Pool`, with a coordinator's contributors as workers.

    from runsurge import Pool

    with Pool() as pool:                   # finds the coordinator `runsurge up` started
        for result in pool.imap_unordered("score.py", texts):
            print(result)

Each `map`, `imap`, `imap_unordered` or `map_async` call submits one grouped job of a
script (a path, or the source as a string) defining `process(input_data: str) ->
dict`, over text inputs. What differs from multiprocessing: the function is a script
rather than a callable (it runs in a contributor's sandbox, not in this process), the
inputs must be `str` (a TypeError names any other), the results are the dicts
`process` returns, a failed input raises `runsurge.errors.JobFailed` carrying its
`index`, `error_type`, `message` and `traceback`, and how many inputs run at once is
up to the cluster (Pool takes no process count).
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from typing import Literal, TypeVar, Unpack

from runsurge.client._options import JobLimits, spec_fields
from runsurge.client._specs import ScriptSource
from runsurge.client.client import Client
from runsurge.client.job import Job
from runsurge.client.mapping import Result, ResultIterator, submit_texts
from runsurge.config import ClientSettings
from runsurge.errors import Conflict, RunSurgeError

log = logging.getLogger(__name__)
T = TypeVar("T")


class AsyncResult:
    """The pending results of `Pool.map_async`, as multiprocessing's AsyncResult.

    `get()` returns the list of results in input order, or raises the first failed
    input's `JobFailed` (in input order); `job` is the group behind it.
    """

    def __init__(
        self,
        iterator: ResultIterator,
        callback: Callable[[list[Result]], object] | None,
        error_callback: Callable[[BaseException], object] | None,
    ) -> None:
        self.job = iterator.job
        self._future: Future[list[Result]] = Future()
        self._future.set_running_or_notify_cancel()
        thread = threading.Thread(
            target=self._collect,
            args=(iterator, callback, error_callback),
            name=f"runsurge-map-async-{self.job.id}",
            daemon=True,
        )
        thread.start()

    def _collect(
        self,
        iterator: ResultIterator,
        callback: Callable[[list[Result]], object] | None,
        error_callback: Callable[[BaseException], object] | None,
    ) -> None:
        try:
            results = list(iterator)
        except Exception as exc:
            _call_back(error_callback, exc)
            self._future.set_exception(exc)
            return
        _call_back(callback, results)  # before ready(), as multiprocessing does
        self._future.set_result(results)

    def get(self, timeout: float | None = None) -> list[Result]:
        """The results in input order; TimeoutError if not ready within `timeout` s."""
        return self._future.result(timeout)

    def wait(self, timeout: float | None = None) -> None:
        """Block until the results are ready or `timeout` seconds pass."""
        concurrent.futures.wait([self._future], timeout)

    def ready(self) -> bool:
        """Whether every input is final (or the results could not be read)."""
        return self._future.done()

    def successful(self) -> bool:
        """Whether every input succeeded; ValueError while not ready."""
        if not self.ready():
            raise ValueError(f"the results of job {self.job.id} are not ready")
        return self._future.exception() is None


def _call_back(fn: Callable[[T], object] | None, value: T) -> None:
    if fn is None:
        return
    try:
        fn(value)
    except Exception:  # the caller's code: it must not lose the result
        log.exception("a map_async callback raised")


class Pool:
    """Run a script over many inputs on a RunSurge cluster, shaped like multiprocessing.Pool.

    Connects like `Client` (the same arguments, environment and config file, so a
    local `runsurge up` is found by itself), or uses the `client` given (not closed
    by the pool). As a context manager, leaving the block calls `terminate()`: every
    unfinished job the pool submitted is cancelled. `close()` refuses new work and
    `join()` (after `close()` or `terminate()`) waits for the pool's jobs to end.
    `name` labels its jobs in listings; `memory` caps each task's memory; `limits`
    (wall_time, cpu_time, max_attempts, priority, labels; docs/sdk.md) apply to every
    job the pool submits. There is no idempotency key: each call is a new job.
    `local=True` runs the inputs on this machine with no coordinator, `processes` at
    a time (default: its cores), as `Client(local=True)` does (docs/sdk.md).
    """

    def __init__(
        self,
        *,
        coordinator: str | None = None,
        token: str | None = None,
        client: Client | None = None,
        settings: ClientSettings | None = None,
        tls_ca: str | os.PathLike[str] | None = None,
        tls_cert: str | os.PathLike[str] | None = None,
        tls_key: str | os.PathLike[str] | None = None,
        name: str = "",
        memory: int | str | None = None,
        local: bool = False,
        processes: int | None = None,
        **limits: Unpack[JobLimits],
    ) -> None:
        if processes is not None and not local:
            raise TypeError("processes applies to Pool(local=True) only")
        self._owns_client = client is None
        if client is not None:
            self.client = client
        elif local:
            self.client = Client(local=True, workers=processes)
        else:
            self.client = Client(
                coordinator,
                token,
                settings=settings,
                tls_ca=tls_ca,
                tls_cert=tls_cert,
                tls_key=tls_key,
            )
        self._name = name
        self._memory = memory
        spec_fields(limits)  # refuse a bad option now, not at the first map
        self._limits = limits
        self._state: Literal["RUN", "CLOSE", "TERMINATE"] = "RUN"
        self._jobs: list[Job] = []
        self._pending: list[AsyncResult] = []
        self._lock = threading.Lock()

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *_: object) -> None:
        self.terminate()

    def __repr__(self) -> str:
        return f"<runsurge.Pool {self._state.lower()} {self.client.address} jobs={len(self._jobs)}>"

    @property
    def jobs(self) -> list[Job]:
        """The jobs this pool submitted, oldest first."""
        with self._lock:
            return list(self._jobs)

    def _submit(self, script: ScriptSource, inputs: Iterable[str], method: str) -> Job:
        with self._lock:
            if self._state != "RUN":
                raise ValueError("Pool not running")
        job = submit_texts(
            self.client,
            script,
            inputs,
            name=self._name or f"Pool.{method}",
            memory=self._memory,
            **self._limits,
        )
        with self._lock:
            self._jobs.append(job)
        return job

    def map(self, script: ScriptSource, inputs: Iterable[str]) -> list[Result]:
        """Every input's result, in input order, once all are in.

        Raises the first failed input's JobFailed (first in input order).
        """
        return list(self.imap(script, inputs))

    def imap(self, script: ScriptSource, inputs: Iterable[str]) -> ResultIterator:
        """The results in input order, each as soon as it and those before it are in."""
        return ResultIterator(self._submit(script, inputs, "imap"), ordered=True)

    def imap_unordered(self, script: ScriptSource, inputs: Iterable[str]) -> ResultIterator:
        """The results in the order the inputs finish, each as soon as it is in."""
        return ResultIterator(self._submit(script, inputs, "imap_unordered"), ordered=False)

    def map_async(
        self,
        script: ScriptSource,
        inputs: Iterable[str],
        callback: Callable[[list[Result]], object] | None = None,
        error_callback: Callable[[BaseException], object] | None = None,
    ) -> AsyncResult:
        """Submit now and return at once; the AsyncResult fills in the background.

        `callback` gets the list of results, `error_callback` the first failure.
        """
        job = self._submit(script, inputs, "map_async")
        pending = AsyncResult(ResultIterator(job, ordered=True), callback, error_callback)
        with self._lock:
            self._pending.append(pending)
        return pending

    def close(self) -> None:
        """Accept no more work; what was submitted runs on (`join()` waits for it)."""
        with self._lock:
            if self._state == "RUN":
                self._state = "CLOSE"

    def terminate(self) -> None:
        """Cancel every unfinished job of the pool now, then close its connection."""
        with self._lock:
            if self._state == "TERMINATE":
                return
            self._state = "TERMINATE"
            jobs = list(self._jobs)
        try:
            for job in jobs:
                _cancel_unless_done(job)
        finally:
            if self._owns_client:
                self.client.close()

    def join(self, timeout: float | None = None) -> None:
        """Wait for every job of the pool to end (and map_async results to be read).

        Call after `close()` or `terminate()` (ValueError otherwise, as
        multiprocessing); after `terminate()` nothing is left to wait for.
        """
        with self._lock:
            state, jobs, pending = self._state, list(self._jobs), list(self._pending)
        if state == "RUN":
            raise ValueError("Pool is still running")
        if state == "TERMINATE":
            return
        for job in jobs:
            job.wait(timeout)
        for result in pending:
            result.wait(timeout)


def _cancel_unless_done(job: Job) -> None:
    try:
        if not job.status().done:
            job.cancel()
    except Conflict:
        pass  # it finished in between: nothing left to cancel
    except RunSurgeError as exc:  # the coordinator is gone: say so, cancel the others
        log.warning("could not cancel job %s: %s", job.id, exc)
