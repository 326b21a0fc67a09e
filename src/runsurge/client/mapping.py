"""One script over many text inputs, read back as results: iterators and futures.

The shapes behind `Pool.imap`/`imap_unordered` (`ResultIterator`) and `Client.map`
(`JobFutures`, real `concurrent.futures.Future` objects, so `as_completed`, `wait` and
`add_done_callback` work as with any executor). Both submit one grouped job and follow
`Job.as_completed()`, so results arrive while the group runs and survive a
coordinator restart.

Inputs are the `str` handed to `process(input_data: str)`: anything else is a
TypeError naming the input, raised before anything is sent for a list (or tuple),
and while uploading for a lazy iterable (the half-sent job is then dropped).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Unpack

from runsurge.client._options import JobOptions
from runsurge.client._results import failure
from runsurge.client.job import InputResult, Job
from runsurge.errors import RunSurgeError

if TYPE_CHECKING:
    from runsurge.client._specs import ScriptSource
    from runsurge.client.client import Client

Result = dict[str, Any]


def text_inputs(inputs: Iterable[str]) -> Iterable[str]:
    """`inputs` checked to be strings: at once for a sequence, lazily otherwise."""
    if isinstance(inputs, str | bytes):
        raise TypeError(
            f"inputs must be an iterable of str, one per input, not a single "
            f"{type(inputs).__name__}: wrap it in a list"
        )
    if isinstance(inputs, Sequence):
        for index, item in enumerate(inputs):
            _text(index, item)
        return inputs
    return (_text(index, item) for index, item in enumerate(inputs))


def _text(index: int, item: object) -> str:
    if not isinstance(item, str):
        raise TypeError(
            f"input {index} is {type(item).__name__}, not str: each input is the text "
            f"passed to process(input_data: str); convert it first (str(), json.dumps())"
        )
    return item


def submit_texts(
    client: Client,
    script: ScriptSource,
    inputs: Iterable[str],
    *,
    name: str = "",
    memory: int | str | None = None,
    **options: Unpack[JobOptions],
) -> Job:
    """Submit `script` over the text `inputs` as one group that runs every input."""
    return client.submit_group(
        script, text_inputs(inputs), on_error="continue", name=name, memory=memory, **options
    )


def input_count(job: Job) -> int:
    """How many inputs a just-submitted job has."""
    last = job._last  # the submit reply: the sealed job, with its count
    return (last if last is not None else job.status()).tasks.total


class ResultIterator(Iterator[Result]):
    """A mapped job's results, in input order (`ordered`) or in the order they finish.

    As multiprocessing's `imap`: a failed input raises `JobFailed` (with its `index`,
    `error_type`, `message` and `traceback`) from the `next()` that reaches it, and
    the following `next()` goes on with the next input. `job` is the group behind it.
    """

    def __init__(self, job: Job, ordered: bool) -> None:
        self.job = job
        self._ordered = ordered
        self._total = input_count(job)
        self._outcomes = job.as_completed()
        self._early: dict[int, InputResult] = {}  # finished before their turn (ordered)
        self._next_index = 0
        self._given = 0

    def __iter__(self) -> ResultIterator:
        return self

    def __next__(self) -> Result:
        if self._given >= self._total:
            raise StopIteration
        outcome = self._in_turn() if self._ordered else self._pull()
        self._given += 1
        if not outcome.ok or outcome.result is None:
            raise failure(self.job.id, outcome)
        return outcome.result

    def _in_turn(self) -> InputResult:
        while self._next_index not in self._early:
            outcome = self._pull()
            self._early[outcome.index] = outcome
        self._next_index += 1
        return self._early.pop(self._next_index - 1)

    def _pull(self) -> InputResult:
        try:
            return next(self._outcomes)
        except StopIteration:
            raise RunSurgeError(
                f"the results of job {self.job.id} ended after {self._given} of "
                f"{self._total} inputs"
            ) from None
        except ValueError as exc:  # grpc: "Cannot invoke RPC on closed channel!"
            raise RunSurgeError(
                f"cannot read the results of job {self.job.id}: its connection was "
                f"closed (the pool was terminated or the client closed)"
            ) from exc


class JobFutures(list[Future[Result]]):
    """One `concurrent.futures.Future` per input, in input order; `job` is the group.

    A future's `result()` is the input's result dict; a failed input's raises
    `JobFailed`. Cancelling one future only drops its result (the input still runs);
    `cancel()` here stops the whole job.
    """

    def __init__(self, job: Job, futures: Iterable[Future[Result]]) -> None:
        super().__init__(futures)
        self.job = job

    def cancel(self) -> None:
        """Cancel the job's unfinished inputs and every future still pending."""
        for future in self:
            future.cancel()
        if not self.job.status().done:
            self.job.cancel()


def map_futures(
    client: Client,
    script: ScriptSource,
    inputs: Iterable[str],
    *,
    name: str = "",
    memory: int | str | None = None,
    **options: Unpack[JobOptions],
) -> JobFutures:
    """Submit the group, then settle each input's future from a background thread."""
    job = submit_texts(client, script, inputs, name=name, memory=memory, **options)
    futures = JobFutures(job, (Future() for _ in range(input_count(job))))
    thread = threading.Thread(
        target=_settle, args=(job, futures), name=f"runsurge-futures-{job.id}", daemon=True
    )
    thread.start()
    return futures


def _settle(job: Job, futures: JobFutures) -> None:
    try:
        for outcome in job.as_completed():
            future = futures[outcome.index]
            if not future.set_running_or_notify_cancel():
                continue  # the caller cancelled it: nobody wants the result
            if outcome.ok and outcome.result is not None:
                future.set_result(outcome.result)
            else:
                future.set_exception(failure(job.id, outcome))
        missing: Exception = RunSurgeError(f"job {job.id} ended without this input's result")
    except Exception as exc:  # the stream broke for good: every pending future learns why
        missing = exc
    for future in futures:
        if not future.done() and future.set_running_or_notify_cancel():
            future.set_exception(missing)
