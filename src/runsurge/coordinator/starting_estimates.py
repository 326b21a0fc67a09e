"""The estimate and reservation a task starts with, decided when its input arrives.

Evidence, strongest first (runsurge.estimate): the measured peaks of this consumer's
finished tasks of the same script (never another tenant's: they would reveal its
input sizes), then a static prior from the script's source and the input's size,
then the consumer's `--memory` when nothing predicts the script. Only measured
evidence sets a reservation outright. A prior may raise a reservation above the
coordinator's default (a visible 2 GiB buffer should not first be killed at 512 MiB
and regrown three times) but never lowers it, and a reservation raised by a prior that
no connected contributor can hold is lowered to the largest one rather than failed
(placement.py): a guess never fails a task, only a measurement does. Tasks of a
larger input go to a contributor that probes them before running (probing.py), which
replaces a prior with measured evidence.

Reading the input's features costs nothing extra: the receiver counts lines and keeps
the first bytes (a number?) as the input streams into its blob.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from runsurge.coordinator.estimates import finished_of_script, history_of
from runsurge.coordinator.margins import calibrated_margins
from runsurge.coordinator.reservations import StartingEstimate, reservation_for
from runsurge.estimate import Estimate, Estimator, InputFeatures, Method, read_script
from runsurge.estimate.static import NUMERIC_INPUT_LIMIT
from runsurge.kinds import EstimateSource
from runsurge.store.blobs import BlobStore


class InputSketch:
    """What an input's bytes say about its memory, gathered as it streams in."""

    def __init__(self) -> None:
        self.size = 0
        self._newlines = 0
        self._head = b""
        self._last = b""

    def feed(self, data: bytes) -> None:
        """The next chunk of the input."""
        if not data:
            return
        self._newlines += data.count(b"\n")
        if len(self._head) <= NUMERIC_INPUT_LIMIT:
            self._head = (self._head + data)[: NUMERIC_INPUT_LIMIT + 1]
        self._last = data[-1:]
        self.size += len(data)

    def features(self) -> InputFeatures:
        """Size, line count and numeric value, as `describe_input` gives them."""
        lines = self._newlines + (1 if self.size and self._last != b"\n" else 0)
        value: float | None = None
        if self.size <= NUMERIC_INPUT_LIMIT:
            try:
                value = float(self._head.strip() or b"x")
            except ValueError:
                value = None
        return InputFeatures(size=self.size, lines=lines, numeric_value=value)


class StartingEstimator:
    """Estimates the inputs of one submission: the script read once, its history once."""

    def __init__(
        self,
        estimator: Estimator,
        script: bytes,
        script_sha256: str,
        default_bytes: int,
        job_limit_bytes: int,
    ) -> None:
        self._estimator = estimator
        self._features = read_script(script.decode("utf-8", errors="replace"))
        self._script_sha256 = script_sha256
        self._limit = job_limit_bytes or None
        self._default = min(default_bytes, job_limit_bytes) if job_limit_bytes else default_bytes

    @classmethod
    def load(
        cls,
        session: Session,
        blobs: BlobStore,
        consumer_id: str,
        script: bytes,
        script_sha256: str,
        default_bytes: int,
        job_limit_bytes: int,
    ) -> StartingEstimator:
        """One for a new job, fed with the consumer's finished tasks of the script."""
        finished = finished_of_script(session, consumer_id, script_sha256)
        history = history_of(script_sha256, finished, blobs, "")
        estimator = Estimator(history=history, margins=calibrated_margins(session))
        return cls(estimator, script, script_sha256, default_bytes, job_limit_bytes)

    def for_input(self, target: InputFeatures) -> StartingEstimate:
        """The reservation and estimate of a task on an input like `target`."""
        measured = self._estimator.estimate_from_history(
            self._script_sha256, target, "", self._limit
        )
        if measured is not None:
            return StartingEstimate(
                reservation_for(measured.peak_bytes, self._limit),
                measured.peak_bytes,
                EstimateSource.HISTORY,
                measured.confidence,
                _raw(measured),
            )
        prior = self._estimator.estimate_static(self._features, target, self._limit)
        if prior.method is Method.DECLARED:
            return StartingEstimate(
                self._default, prior.peak_bytes, EstimateSource.DECLARED, prior.confidence
            )
        raised = max(self._default, reservation_for(prior.peak_bytes, self._limit))
        return StartingEstimate(
            raised, prior.peak_bytes, EstimateSource.STATIC, prior.confidence, _raw(prior)
        )


def _raw(estimate: Estimate) -> int:
    """The estimate before its margin and rounding, as the estimator recorded it."""
    raw = estimate.details.get("raw_bytes")
    return raw if isinstance(raw, int) else 0
