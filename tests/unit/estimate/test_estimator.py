"""The Estimator's layers without probes: history, static prior, declared cap, learning."""

from __future__ import annotations

from runsurge.estimate import Estimator, Method

MiB = 1024 * 1024
LINEAR = "def process(d):\n    return {'n': len(d.split())}\n"
FROM_NUMBER = (
    "def process(d):\n    n = int(d)\n    return {'n': len([[0] * n for _ in range(n)])}\n"
)


def _lines(n: int) -> bytes:
    return b"word word word\n" * n


def test_history_of_other_sizes_decides_and_covers_a_linear_peak() -> None:
    estimator = Estimator()
    for n in (10_000, 20_000, 40_000, 80_000):
        estimator.history.record_peak("h", _lines(n), 8 * MiB + 20 * 15 * n)
    estimate = estimator.estimate(LINEAR, _lines(120_000), script_hash="h")
    assert estimate.method is Method.HISTORY
    truth = 8 * MiB + 20 * 15 * 120_000
    assert truth <= estimate.peak_bytes <= 1.4 * truth


def test_history_of_a_number_input_is_fitted_against_the_number() -> None:
    estimator = Estimator()
    for n in (500, 1000, 1500, 2000):
        estimator.history.record_peak("q", b"%d\n" % n, 8 * MiB + 8 * n * n)
    estimate = estimator.estimate(FROM_NUMBER, b"3000\n", script_hash="q")
    assert estimate.method is Method.HISTORY and estimate.details["axis"] == "value"
    assert estimate.details["shape"] == "quadratic"
    assert estimate.peak_bytes >= 8 * MiB + 8 * 3000 * 3000


def test_without_evidence_a_size_read_from_the_input_falls_back_to_declared() -> None:
    estimate = Estimator().estimate(FROM_NUMBER, b"3000\n", declared_max=2048 * MiB)
    assert estimate.method is Method.DECLARED
    assert estimate.peak_bytes == 2048 * MiB and estimate.confidence < 0.5


def test_estimate_never_exceeds_declared_max_and_says_what_it_needs() -> None:
    estimate = Estimator().estimate(LINEAR, _lines(1_000_000), declared_max=64 * MiB)
    assert estimate.peak_bytes == 64 * MiB
    needs = estimate.details["needs_bytes"]
    assert isinstance(needs, int) and needs > 64 * MiB


def test_static_prior_without_probes_or_history_is_low_confidence() -> None:
    estimate = Estimator().estimate(LINEAR, _lines(1000))
    assert estimate.method is Method.STATIC and estimate.confidence <= 0.3


def test_observing_a_peak_above_the_prediction_raises_that_methods_margin() -> None:
    estimator = Estimator()
    estimate = estimator.estimate(LINEAR, _lines(1000))
    raw = estimate.details["raw_bytes"]
    assert isinstance(raw, int)
    before = estimator.margins["static"].factor
    estimator.observe("h", _lines(1000), 3 * raw, estimate)
    assert estimator.margins["static"].factor > before
    assert estimator.history.observations("h")[0].peak_bytes == 3 * raw


def test_group_history_is_preferred_over_the_scripts() -> None:
    estimator = Estimator()
    estimator.history.record_peak("h", _lines(10), 100 * MiB)
    estimator.history.record_peak("h", _lines(10), 20 * MiB, group="g")
    estimate = estimator.estimate(LINEAR, _lines(10), script_hash="h", group="g")
    assert estimate.method is Method.HISTORY and estimate.peak_bytes < 40 * MiB


def test_estimate_is_the_raw_bound_widened_by_the_calibrated_margin() -> None:
    estimator = Estimator()
    for _ in range(20):
        estimator.margins["static"].observe(130, 100)  # tasks ran 30 % above raw
    estimate = estimator.estimate(LINEAR, _lines(1000))
    raw = estimate.details["raw_bytes"]
    assert isinstance(raw, int)
    assert estimate.peak_bytes >= 1.3 * raw
