"""The benchmark's scoring: BASELINE scores 1.0, parts weigh as documented, bad parts say which."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from runsurge.billing import benchmark
from runsurge.billing.benchmark import (
    BASELINE_PARTS,
    BASELINE_SCORE,
    WEIGHTS,
    BenchmarkError,
    BenchmarkResult,
    from_json,
    score,
    to_json,
)


def test_the_baseline_machine_scores_the_baseline_and_factor_one() -> None:
    result = BenchmarkResult(dict(BASELINE_PARTS), cores=2, seconds=5.0)
    assert result.score == pytest.approx(BASELINE_SCORE)
    assert result.factor == pytest.approx(1.0)


def test_a_machine_twice_as_fast_in_every_part_has_factor_two() -> None:
    doubled = {name: 2 * value for name, value in BASELINE_PARTS.items()}
    assert score(doubled) / BASELINE_SCORE == pytest.approx(2.0)


@pytest.mark.parametrize("part", list(WEIGHTS))
def test_each_part_counts_by_its_weight_in_the_geometric_mean(part: str) -> None:
    parts = dict(BASELINE_PARTS, **{part: 4 * BASELINE_PARTS[part]})
    assert score(parts) / BASELINE_SCORE == pytest.approx(4 ** WEIGHTS[part])


def test_weights_sum_to_one_and_cover_every_part() -> None:
    assert set(WEIGHTS) == set(BASELINE_PARTS)
    assert math.fsum(WEIGHTS.values()) == pytest.approx(1.0)


def test_a_ram_disk_cannot_buy_a_large_factor() -> None:
    # A disk 1000x faster than the BASELINE's, everything else equal: under 2x.
    parts = dict(BASELINE_PARTS, disk=1000 * BASELINE_PARTS["disk"])
    assert score(parts) / BASELINE_SCORE < 2.0


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        ({k: v for k, v in BASELINE_PARTS.items() if k != "memory"}, "missing: memory"),
        (dict(BASELINE_PARTS, disk=0.0), "'disk' must be a positive number"),
        (dict(BASELINE_PARTS, integer=math.nan), "'integer' must be a positive number"),
        (dict(BASELINE_PARTS, floating=math.inf), "'floating' must be a positive number"),
        (dict(BASELINE_PARTS, multicore=-1.0), "'multicore' must be a positive number"),
    ],
)
def test_parts_that_cannot_be_scored_are_refused_by_name(
    parts: dict[str, float], message: str
) -> None:
    with pytest.raises(BenchmarkError, match=message):
        score(parts)


def test_kernels_do_the_work_they_are_timed_for() -> None:
    # Fixed checksums: a kernel the interpreter skipped or shortened would not match.
    assert benchmark.integer_kernel(1000) == benchmark.integer_kernel(1000)
    assert benchmark.integer_kernel(1000) != benchmark.integer_kernel(999)
    assert benchmark.float_kernel(1000) == pytest.approx(benchmark.float_kernel(1000))
    assert benchmark.float_kernel(1000) != benchmark.float_kernel(999)


def test_a_result_round_trips_through_its_json_line() -> None:
    result = BenchmarkResult(dict(BASELINE_PARTS), cores=3, seconds=4.5)
    assert from_json(to_json(result)) == result


@pytest.mark.parametrize("text", ["", "{}", '{"parts": {"integer": "fast"}}', "[1]"])
def test_garbage_is_not_a_result(text: str) -> None:
    with pytest.raises(BenchmarkError):
        from_json(text)


def test_a_short_run_measures_every_part_within_its_budget(tmp_path: Path) -> None:
    result = benchmark.run_benchmark(0.2, 1, tmp_path)
    assert set(result.parts) == set(BASELINE_PARTS)
    assert all(value > 0 for value in result.parts.values())
    assert result.seconds < 3.0  # 0.2 s of budget, plus spawning one process
    assert list(tmp_path.iterdir()) == []  # the disk part leaves nothing behind


def test_no_time_or_no_core_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BenchmarkError, match="needs time and a core"):
        benchmark.run_benchmark(0, 1, tmp_path)
