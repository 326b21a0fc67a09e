"""Tenants over real gRPC: one consumer cannot touch another's job, nor an agent another's work.

Another consumer's job answers NOT_FOUND, exactly like a job that does not exist, so
that job ids leak nothing about other tenants (docs/security.md).
"""

from __future__ import annotations

import grpc

from runsurge.proto.v1 import consumer_pb2, consumer_pb2_grpc, contributor_pb2, contributor_pb2_grpc
from tests.integration.cluster import Cluster, wait_until
from tests.integration.rpc import RawAgent, admin_json, auth, code_of, register

NOT_FOUND = grpc.StatusCode.NOT_FOUND
DENIED = grpc.StatusCode.PERMISSION_DENIED
OK = grpc.StatusCode.OK
SLOW_SCRIPT = (
    "import time\n\n\ndef process(input_data: str) -> dict:\n"
    "    time.sleep(1.5)\n    return {'echo': input_data}\n"
)
SCRIPT = "def process(input_data: str) -> dict:\n    return {'echo': input_data}\n"


def _other_consumers_calls(jobs: consumer_pb2_grpc.ConsumerServiceStub, job_id: str, token: str):  # type: ignore[no-untyped-def]
    md = auth(token)
    get = consumer_pb2.GetJobRequest(job_id=job_id)
    return {
        "GetJob": lambda: jobs.GetJob(get, metadata=md),
        "WatchJob": lambda: jobs.WatchJob(get, metadata=md, timeout=5),
        "ListTaskResults": lambda: jobs.ListTaskResults(
            consumer_pb2.ListTaskResultsRequest(job_id=job_id), metadata=md
        ),
        "StreamTaskResults": lambda: jobs.StreamTaskResults(
            consumer_pb2.StreamTaskResultsRequest(job_id=job_id), metadata=md, timeout=5
        ),
        "FetchResult": lambda: jobs.FetchResult(
            consumer_pb2.FetchResultRequest(job_id=job_id, task_index=0), metadata=md
        ),
        "GetTaskLogs": lambda: jobs.GetTaskLogs(
            consumer_pb2.GetTaskLogsRequest(job_id=job_id, task_index=0), metadata=md
        ),
        "GetInvoice": lambda: jobs.GetInvoice(get, metadata=md),
        "CancelJob": lambda: jobs.CancelJob(get, metadata=md),
    }


def test_another_consumer_cannot_read_watch_fetch_or_cancel_a_job(
    cluster_factory: type[Cluster],
) -> None:
    cluster = cluster_factory()
    cluster.add_contributor()
    b_token = admin_json(cluster, "add-consumer", "b")["token"]
    with cluster.client() as a, grpc.insecure_channel(cluster.address) as channel:
        jobs = consumer_pb2_grpc.ConsumerServiceStub(channel)
        job = a.submit(SLOW_SCRIPT, "mine")
        calls = _other_consumers_calls(jobs, job.id, b_token)
        # While it runs (cancelling matters most then), and once it has a result.
        while_running = {name: code_of(call) for name, call in calls.items()}
        assert job.wait(timeout=60).result == {"echo": "mine"}  # B's cancel did nothing
        when_done = {name: code_of(call) for name, call in calls.items()}
        assert while_running == dict.fromkeys(calls, NOT_FOUND)
        assert when_done == dict.fromkeys(calls, NOT_FOUND)
        listed = jobs.ListJobs(consumer_pb2.ListJobsRequest(), metadata=auth(b_token))
        assert [j.id for j in listed.jobs] == []
        # A still sees everything of its own job.
        own = _other_consumers_calls(jobs, job.id, cluster.consumer_token)
        assert {n: code_of(c) for n, c in own.items() if n != "CancelJob"} == dict.fromkeys(
            [
                "GetJob",
                "WatchJob",
                "ListTaskResults",
                "StreamTaskResults",
                "FetchResult",
                "GetTaskLogs",
                "GetInvoice",
            ],
            OK,
        )
        assert a.job(job.id).status().state == "SUCCEEDED"


def test_agents_fetch_only_blobs_of_attempts_they_hold_and_report_only_their_own(
    cluster_factory: type[Cluster],
) -> None:
    cluster = cluster_factory()
    enrolment = (cluster.data_dir / "contributor.token").read_text().strip()
    with cluster.client() as a, grpc.insecure_channel(cluster.address) as channel:
        blobs = contributor_pb2_grpc.ContributorServiceStub(channel)
        holder_session = register(channel, enrolment, "holder").session_token
        other_session = register(channel, enrolment, "other").session_token
        with RawAgent(channel, holder_session) as holder, RawAgent(channel, other_session) as other:
            job = a.submit(SCRIPT, "x")
            wait_until(lambda: bool(holder.assignments or other.assignments), 20, "an assignment")
            if other.assignments:  # whichever got it is the holder
                holder, other = other, holder
                holder_session, other_session = other_session, holder_session
            assignment = holder.assignments[0]

            def fetch(session: str):  # type: ignore[no-untyped-def]
                request = contributor_pb2.FetchBlobRequest(sha256=assignment.script_sha256)
                return lambda: blobs.FetchBlob(request, metadata=auth(session))

            assert code_of(fetch(holder_session)) == OK
            assert code_of(fetch(other_session)) == DENIED

            # A report for the holder's attempt from the other agent is refused.
            other.report(
                contributor_pb2.AttemptFinished(
                    attempt_id=assignment.attempt_id, outcome="OK", result_json=b'{"forged": 1}'
                )
            )
            wait_until(
                lambda: "is not assigned to you" in cluster.log("coordinator.log"),
                10,
                "the forged report to be refused",
            )
            assert a.job(job.id).status().state in ("QUEUED", "RUNNING")

            # The holder goes silent; once its lease lapses it may fetch nothing more.
            holder.close()
            wait_until(lambda: code_of(fetch(holder_session)) != OK, 20, "the lease to lapse")
            assert code_of(fetch(holder_session)) in (DENIED, grpc.StatusCode.UNAUTHENTICATED)
