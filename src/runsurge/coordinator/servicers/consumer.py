"""ConsumerService: thin translation between protobuf and the job domain."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, TypeAlias

from runsurge.billing import invoices, ledger
from runsurge.coordinator import contributors, jobs, outputs, result_stream, samples
from runsurge.coordinator.app import Coordinator
from runsurge.coordinator.attempts import MAX_LOG_BYTES_KEPT
from runsurge.coordinator.auth import Principal
from runsurge.coordinator.interceptor import current_principal
from runsurge.coordinator.servicers.convert import (
    blob_chunks,
    contributor_message,
    job_message,
    submission_items,
    task_result_message,
)
from runsurge.coordinator.servicers.convert_billing import balance_message, invoice_message
from runsurge.coordinator.servicers.convert_samples import (
    outputs_cursor,
    task_output_message,
    task_samples_message,
)
from runsurge.coordinator.status import streaming, unary
from runsurge.coordinator.views import JobView
from runsurge.errors import InvalidRequest
from runsurge.proto.v1 import common_pb2, consumer_pb2, consumer_pb2_grpc

# grpc ships no type information; the servicer context is untyped here.
Context: TypeAlias = Any
WATCH_POLL_SECONDS = 1.0
WATCH_MIN_INTERVAL_SECONDS = 0.2
RESULTS_PAGE = 500


class ConsumerServicer(consumer_pb2_grpc.ConsumerServiceServicer):
    """Submit, inspect, watch, fetch and cancel jobs."""

    def __init__(self, coordinator: Coordinator) -> None:
        self._c = coordinator

    async def _job(self, principal: Principal, job_id: str) -> JobView:
        if not job_id:
            raise InvalidRequest("job_id is required")
        return await self._c.db.run(
            jobs.job_view,
            principal.id,
            job_id,
            self._c.blobs,
            self._c.settings.inline_result_limit,
        )

    async def _view(self, principal: Principal, job_id: str) -> consumer_pb2.Job:
        return job_message(await self._job(principal, job_id))

    @unary
    async def SubmitJob(
        self, request_iterator: AsyncIterator[consumer_pb2.SubmitJobRequest], context: Context
    ) -> consumer_pb2.Job:
        principal = current_principal()
        job_id = await self._c.submit_job(principal.id, submission_items(request_iterator))
        return await self._view(principal, job_id)

    @unary
    async def GetJob(
        self, request: consumer_pb2.GetJobRequest, context: Context
    ) -> consumer_pb2.Job:
        return await self._view(current_principal(), request.job_id)

    @unary
    async def ListJobs(
        self, request: consumer_pb2.ListJobsRequest, context: Context
    ) -> consumer_pb2.ListJobsResponse:
        principal = current_principal()
        views = await self._c.db.run(
            jobs.list_jobs,
            principal.id,
            request.limit,
            self._c.blobs,
            self._c.settings.inline_result_limit,
            list(request.states),
            request.name_contains[:200],
        )
        return consumer_pb2.ListJobsResponse(jobs=[job_message(v) for v in views])

    @streaming
    async def WatchJob(
        self, request: consumer_pb2.GetJobRequest, context: Context
    ) -> AsyncIterator[consumer_pb2.Job]:
        principal = current_principal()
        last: consumer_pb2.Job | None = None
        with self._c.events.subscribe(request.job_id) as changes:
            while True:
                changes.clear()  # before reading: a change from here on wakes us
                view = await self._job(principal, request.job_id)
                current = job_message(view)
                if current != last:
                    yield current
                    last = current
                if view.state.final:
                    return
                # At most a few snapshots a second however fast a big group finishes.
                await changes.wait(WATCH_POLL_SECONDS, min_delay=WATCH_MIN_INTERVAL_SECONDS)

    @streaming
    async def FetchResult(
        self, request: consumer_pb2.FetchResultRequest, context: Context
    ) -> AsyncIterator[common_pb2.Chunk]:
        principal = current_principal()
        sha = await self._c.db.run(
            jobs.result_ref, principal.id, request.job_id, request.task_index, request.aggregate
        )
        for chunk in blob_chunks(self._c.blobs, sha):
            yield chunk

    @streaming
    async def ListTaskResults(
        self, request: consumer_pb2.ListTaskResultsRequest, context: Context
    ) -> AsyncIterator[consumer_pb2.TaskResult]:
        principal = current_principal()
        start = request.start_index
        while True:
            page = await self._c.db.run(
                jobs.task_results, principal.id, request.job_id, start, RESULTS_PAGE, self._c.blobs
            )
            for view in page:
                yield task_result_message(view)
            if len(page) < RESULTS_PAGE:
                return
            start = page[-1].index + 1

    @streaming
    async def StreamTaskResults(
        self, request: consumer_pb2.StreamTaskResultsRequest, context: Context
    ) -> AsyncIterator[consumer_pb2.FinishedTaskResult]:
        principal = current_principal()
        if not request.job_id:
            raise InvalidRequest("job_id is required")
        async for found in result_stream.follow(
            self._c.db,
            self._c.blobs,
            self._c.events,
            principal.id,
            request.job_id,
            request.after_position,
        ):
            yield consumer_pb2.FinishedTaskResult(
                position=found.position, result=task_result_message(found.view)
            )

    @unary
    async def CancelJob(
        self, request: consumer_pb2.GetJobRequest, context: Context
    ) -> consumer_pb2.Job:
        principal = current_principal()
        await self._c.cancel_job(principal.id, request.job_id)
        return await self._view(principal, request.job_id)

    @unary
    async def GetTaskLogs(
        self, request: consumer_pb2.GetTaskLogsRequest, context: Context
    ) -> consumer_pb2.TaskLogs:
        principal = current_principal()
        if not request.job_id:
            raise InvalidRequest("job_id is required")
        view = await self._c.db.run(
            jobs.task_logs, principal.id, request.job_id, request.task_index
        )
        return consumer_pb2.TaskLogs(logs=view.logs, truncated=view.truncated, state=view.state)

    @unary
    async def ListContributors(
        self, request: consumer_pb2.ListContributorsRequest, context: Context
    ) -> consumer_pb2.ListContributorsResponse:
        current_principal()
        views = await self._c.db.run(contributors.list_contributors)
        return consumer_pb2.ListContributorsResponse(
            contributors=[contributor_message(v) for v in views]
        )

    @unary
    async def ListTaskSamples(
        self, request: consumer_pb2.ListTaskSamplesRequest, context: Context
    ) -> consumer_pb2.ListTaskSamplesResponse:
        principal = current_principal()
        if not request.job_id:
            raise InvalidRequest("job_id is required")
        views = await self._c.db.run(
            samples.task_samples, principal.id, request.job_id, request.after_id, request.limit
        )
        return task_samples_message(views)

    @streaming
    async def ListTaskOutputs(
        self, request: consumer_pb2.ListTaskOutputsRequest, context: Context
    ) -> AsyncIterator[consumer_pb2.TaskOutput]:
        principal = current_principal()
        if not request.job_id:
            raise InvalidRequest("job_id is required")
        since, after_index = outputs_cursor(request)
        views = await self._c.db.run(
            outputs.finished_outputs,
            principal.id,
            request.job_id,
            since,
            after_index,
            request.limit,
            MAX_LOG_BYTES_KEPT,
        )
        for view in views:
            yield task_output_message(view)

    @unary
    async def GetBalance(
        self, request: consumer_pb2.GetBalanceRequest, context: Context
    ) -> consumer_pb2.Balance:
        principal = current_principal()
        rules = self._c.settings.billing.rules
        return balance_message(await self._c.db.run(ledger.balance_of, principal.id, rules))

    @unary
    async def GetInvoice(
        self, request: consumer_pb2.GetJobRequest, context: Context
    ) -> consumer_pb2.Invoice:
        principal = current_principal()
        if not request.job_id:
            raise InvalidRequest("job_id is required")
        found = await self._c.db.run(invoices.invoice, principal.id, request.job_id)
        return invoice_message(found)
