"""A reported result, checked and stored before any transaction locks its job.

Parsing a result (up to the gRPC message limit inline, or any size uploaded) and
writing it to the blob store are slow next to a row lock, and every other move of
the job's tasks waits on that lock. So both happen here, outside the database:
`finish_attempt` (attempts.py) receives a `StoredResult` and never reads a blob.

Blobs are content-addressed, so storing one before knowing whether the report will
settle its task is safe: a report that then loses (late, duplicate, not the agent's)
leaves only an unreferenced blob, as a reaped upload does, for a later garbage
collection; nothing refers to it and nothing is overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass

from runsurge.coordinator.views import FinishedAttempt
from runsurge.errors import InvalidRequest, NotFound
from runsurge.kinds import OutcomeKind
from runsurge.store.blobs import BlobStore
from runsurge.strict_json import StrictJSONError, canonical_object


@dataclass(frozen=True)
class StoredResult:
    """A result that is a JSON object and is in the blob store."""

    sha256: str
    size: int


def store_result(report: FinishedAttempt, blobs: BlobStore) -> StoredResult | None:
    """Check an OK report's result and store it; None for other outcomes.

    Raises InvalidRequest when an OK report carries no stored result, or one that is
    not strict JSON of an object: contributors may lie, and such a report is refused whole.
    """
    if report.outcome is not OutcomeKind.OK:
        return None
    if report.result_json is not None and not report.result_sha256:
        _check_object(report.result_json, report.attempt_id)
        ref = blobs.put(report.result_json)
        return StoredResult(ref.sha256, ref.size)
    if report.result_sha256 and blobs.exists(report.result_sha256):
        try:
            with blobs.open(report.result_sha256) as f:
                data = f.read()
        except (NotFound, OSError) as exc:
            raise InvalidRequest(
                f"attempt {report.attempt_id} reported an unreadable result ({exc})"
            ) from exc
        _check_object(data, report.attempt_id)
        return StoredResult(report.result_sha256, len(data))
    raise InvalidRequest(f"attempt {report.attempt_id} reported OK without a stored result")


def _check_object(data: bytes, attempt_id: int) -> None:
    # As strict as the agent's own check: a contributor may lie (strict_json.py).
    try:
        canonical_object(data)
    except StrictJSONError as exc:
        raise InvalidRequest(
            f"attempt {attempt_id} reported a result that is not strict JSON of an object: "
            f"{exc.reason}"
        ) from None
