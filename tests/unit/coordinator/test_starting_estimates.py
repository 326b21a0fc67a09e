"""The estimate and reservation a new task starts with (coordinator/starting_estimates.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from runsurge.coordinator.starting_estimates import InputSketch, StartingEstimator
from runsurge.estimate import Estimator, InputFeatures, describe_input
from runsurge.kinds import EstimateSource
from tests.unit.coordinator.scene import GiB, MiB, Scene

DEFAULT = 512 * MiB
SPLITTER = b"def process(input_data):\n    return {'n': len(sorted(input_data.split()))}\n"
BIG_BUFFER = b"def process(input_data):\n    b = bytearray(3 * 1024 ** 3)\n    return {}\n"
SIZED_BY_INPUT = (
    b"def process(input_data):\n    b = bytearray(int(input_data))\n    return {'n': len(b)}\n"
)


def _starting(script: bytes, limit: int = 0) -> StartingEstimator:
    return StartingEstimator(Estimator(), script, "sha", DEFAULT, limit)


def _lines(size: int) -> InputFeatures:
    return InputFeatures(size=size, lines=max(2, size // 10), numeric_value=None)


@given(st.lists(st.binary(max_size=40), max_size=12))
def test_an_input_sketched_in_chunks_has_the_features_of_the_whole(chunks: list[bytes]) -> None:
    sketch = InputSketch()
    for chunk in chunks:
        sketch.feed(chunk)
    assert sketch.features() == describe_input(b"".join(chunks))


def test_a_prior_below_the_default_keeps_the_default_reservation() -> None:
    start = _starting(SPLITTER).for_input(_lines(10_000))
    assert start.source is EstimateSource.STATIC
    assert 0 < start.estimate_bytes < DEFAULT
    assert start.reservation_bytes == DEFAULT  # a guess never lowers a reservation


def test_a_prior_above_the_default_raises_the_reservation() -> None:
    big_input = _starting(SPLITTER).for_input(_lines(100 * MiB))
    assert big_input.source is EstimateSource.STATIC
    assert big_input.reservation_bytes >= big_input.estimate_bytes > DEFAULT

    buffer = _starting(BIG_BUFFER).for_input(_lines(100))
    assert buffer.reservation_bytes > 3 * GiB  # the visible buffer, not the default


def test_a_prior_never_exceeds_the_jobs_memory_limit() -> None:
    start = _starting(BIG_BUFFER, limit=1 * GiB).for_input(_lines(100))
    assert start.reservation_bytes == 1 * GiB
    assert start.estimate_bytes == 1 * GiB


def test_a_script_sized_by_its_input_under_a_limit_is_declared_and_keeps_the_default() -> None:
    target = InputFeatures(size=9, lines=1, numeric_value=1e8)
    start = _starting(SIZED_BY_INPUT, limit=2 * GiB).for_input(target)
    assert start.source is EstimateSource.DECLARED
    assert start.estimate_bytes == 2 * GiB
    assert start.reservation_bytes == DEFAULT


def test_the_consumers_finished_tasks_of_the_script_set_the_reservation(scene: Scene) -> None:
    consumer = scene.consumer()
    scene.submit(consumer, [b"a" * 100] * 4, reservation=DEFAULT)
    machine = scene.contributor()
    for _ in range(4):
        attempt = scene.claimed(machine)
        scene.report(machine, attempt.attempt_id, average_memory_bytes=40 * MiB)
    script = scene.job(attempt.job_id).script_sha256

    def load(consumer_id: str) -> StartingEstimator:
        return scene.db.call(
            StartingEstimator.load, scene.blobs, consumer_id, b"", script, DEFAULT, 0
        )

    same_size = InputFeatures(size=100, lines=1, numeric_value=None)
    mine = load(consumer).for_input(same_size)
    assert mine.source is EstimateSource.HISTORY
    assert 40 * MiB <= mine.estimate_bytes <= mine.reservation_bytes < DEFAULT
    # Another tenant's peaks on the same script say nothing about this one's reservation.
    theirs = load(scene.consumer()).for_input(same_size)
    assert theirs.source is not EstimateSource.HISTORY
    assert theirs.reservation_bytes == DEFAULT
