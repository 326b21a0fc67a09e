"""Protobuf ⇄ domain at the servicers' edge: kinds become enums, unknown ones are refused."""

from __future__ import annotations

import pytest

from runsurge.coordinator.servicers.convert import finished_from_message, job_spec_from_message
from runsurge.errors import InvalidRequest
from runsurge.kinds import JobKind, OnError, OutcomeKind
from runsurge.proto.v1 import consumer_pb2, contributor_pb2


@pytest.mark.parametrize("kind", list(OutcomeKind))
def test_every_outcome_kind_converts_from_its_wire_string(kind: OutcomeKind) -> None:
    report = finished_from_message(
        contributor_pb2.AttemptFinished(attempt_id=7, outcome=kind.value)
    )
    assert report.outcome is kind


def test_an_outcome_this_coordinator_does_not_know_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="attempt 7 reported an unknown outcome 'NONSENSE'"):
        finished_from_message(contributor_pb2.AttemptFinished(attempt_id=7, outcome="NONSENSE"))


def test_inline_result_is_taken_only_from_an_ok_report_without_an_upload() -> None:
    ok = contributor_pb2.AttemptFinished(attempt_id=1, outcome="OK", result_json=b"{}")
    failed = contributor_pb2.AttemptFinished(attempt_id=1, outcome="SCRIPT_ERROR")
    uploaded = contributor_pb2.AttemptFinished(attempt_id=1, outcome="OK", result_sha256="ab")

    assert finished_from_message(ok).result_json == b"{}"
    assert finished_from_message(failed).result_json is None
    assert finished_from_message(uploaded).result_json is None


def test_job_spec_defaults_to_a_single_job_that_continues_on_error() -> None:
    spec = job_spec_from_message(consumer_pb2.JobSpec(script=b"x"))
    group = job_spec_from_message(
        consumer_pb2.JobSpec(
            kind=consumer_pb2.JOB_KIND_GROUP, on_error=consumer_pb2.ON_ERROR_FAIL_FAST
        )
    )

    assert (spec.kind, spec.options.on_error, spec.script_name) == (
        JobKind.SINGLE,
        OnError.CONTINUE,
        "script.py",
    )
    assert (group.kind, group.options.on_error) == (JobKind.GROUP, OnError.FAIL_FAST)
