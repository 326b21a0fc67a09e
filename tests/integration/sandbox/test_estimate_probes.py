"""The estimator's sandbox probe runner on real scripts: shapes recognised, bounds hold."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from runsurge.estimate import Estimator, Method
from runsurge.estimate.growth import MAX_RESIDUAL_WIDENING
from runsurge.estimate.sandbox_probes import SandboxProbeRunner
from runsurge.sandbox import Sandbox, SandboxPolicy
from runsurge.sandbox.policy import MiB

POLICY = SandboxPolicy(memory_bytes=1024 * MiB, cpu_seconds=20, wall_seconds=20)
CONSTANT = "TABLE = [0] * 8_000_000\n\ndef process(d):\n    return {'n': len(TABLE)}\n"
LINEAR = "def process(d):\n    return {'n': len(d.split())}\n"
GRID = "def process(d):\n    n = int(d)\n    return {'n': len([[0] * n for _ in range(n)])}\n"
# How far above the run a growing bound may sit.  When noise cannot rule out the next
# steeper shape, the bound takes it: n log n over linear is up to 1.3x from a 512 KiB
# probe to 24 MiB.  That is widened by at most MAX_RESIDUAL_WIDENING, then by the
# probes' margin (1.05), then rounded up to a bucket (at most 1/8 more).  A typical
# run sits near 1.4x; benchmarks/estimator.py measures the median over a corpus.
GROWING_SLACK = 1.3 * (1 + MAX_RESIDUAL_WIDENING) * 1.05 * (1 + 1 / 8)
FLAGGED = (
    "def process(d):\n    if 'ALLOCATE_BIG' in d:\n"
    "        b = b'x' * (128 * 1024 * 1024)\n        return {'n': len(b)}\n    return {}\n"
)


@pytest.fixture(scope="module")
def probes(sandbox: Sandbox) -> Iterator[SandboxProbeRunner]:
    runner = SandboxProbeRunner(sandbox, POLICY)
    yield runner
    runner.close()


def _text(nbytes: int) -> bytes:
    return (b"alpha beta gamma delta epsilon\n" * (nbytes // 31 + 1))[:nbytes]


def _actual(probes: SandboxProbeRunner, script: str, data: bytes) -> int:
    result = probes.run(script, data)
    assert result.ok, result.error
    return result.peak_bytes


def test_constant_allocation_is_fitted_flat_and_bounded_tightly(
    probes: SandboxProbeRunner,
) -> None:
    data = _text(48 * MiB)
    estimate = Estimator(probes).estimate(CONSTANT, data)
    actual = _actual(probes, CONSTANT, data)
    assert estimate.method is Method.PROBES
    assert actual <= estimate.peak_bytes <= 1.6 * actual


def test_split_is_fitted_as_growing_and_its_bound_covers_the_run(
    probes: SandboxProbeRunner,
) -> None:
    data = _text(24 * MiB)
    estimate = Estimator(probes).estimate(LINEAR, data)
    actual = _actual(probes, LINEAR, data)
    assert estimate.details["shape"] in ("linear", "nlogn")
    assert actual <= estimate.peak_bytes <= GROWING_SLACK * actual


def test_quadratic_in_a_number_is_recognised_from_history_of_other_numbers(
    probes: SandboxProbeRunner,
) -> None:
    estimator = Estimator()  # no probes: a tiny input would be run whole, before history
    for n in (300, 600, 900, 1200):
        estimator.history.record_peak("grid", b"%d\n" % n, _actual(probes, GRID, b"%d\n" % n))
    estimate = estimator.estimate(GRID, b"2400\n", script_hash="grid")
    assert estimate.details["axis"] == "value" and estimate.details["shape"] == "quadratic"
    assert _actual(probes, GRID, b"2400\n") <= estimate.peak_bytes


def test_number_input_cold_is_run_whole_the_probe_is_the_task(probes: SandboxProbeRunner) -> None:
    estimate = Estimator(probes).estimate(GRID, b"1500\n")
    assert estimate.details.get("probe_is_task") is True
    assert _actual(probes, GRID, b"1500\n") <= estimate.peak_bytes


def test_flag_missed_by_prefixes_is_added_and_flagged_low_confidence(
    probes: SandboxProbeRunner,
) -> None:
    data = _text(8 * MiB) + b"ALLOCATE_BIG\n"
    estimate = Estimator(probes).estimate(FLAGGED, data)
    assert estimate.details.get("content_dependent") is True
    assert estimate.confidence <= 0.5
    assert _actual(probes, FLAGGED, data) <= estimate.peak_bytes


SLOW = (
    "def process(d):\n    total = 0\n    for ch in d:\n        total += ord(ch)\n"
    "    return {'t': total}\n"
)


def test_probes_of_a_slow_long_task_stay_a_small_share_of_its_time(
    probes: SandboxProbeRunner,
) -> None:
    data = _text(64 * MiB)
    estimate = Estimator(probes).estimate(SLOW, data)
    task = probes.run(SLOW, data, whole_task=True)
    assert task.ok and task.seconds > 1.0
    probe_seconds = estimate.details["probe_seconds"]
    assert isinstance(probe_seconds, float)
    assert probe_seconds <= 0.15 * task.seconds
    assert task.peak_bytes <= estimate.peak_bytes
