"""Probe planning: whole tiny inputs, line-boundary prefixes, and inputs probes cannot predict."""

from __future__ import annotations

from runsurge.estimate.probes import ProbeBudget, plan_probes
from runsurge.estimate.static import describe_input

BUDGET = ProbeBudget()


def test_tiny_input_is_run_whole_the_probe_is_the_task() -> None:
    data = b"4000\n"
    plan = plan_probes(data, describe_input(data), BUDGET)
    assert plan.whole and plan.prefixes == (len(data),)


def test_ladder_starts_at_the_pilot_doubles_on_line_boundaries_up_to_the_top() -> None:
    data = b"".join(b"line %d of text\n" % i for i in range(2_000_000))
    plan = plan_probes(data, describe_input(data), BUDGET)
    assert all(data[size - 1 : size] == b"\n" for size in plan.prefixes)
    assert BUDGET.pilot_bytes <= plan.prefixes[0] < BUDGET.pilot_bytes + 64
    pairs = zip(plan.prefixes, plan.prefixes[1:], strict=False)
    assert all(2 * a - 64 <= b <= 2 * a + 64 for a, b in pairs)
    assert plan.prefixes[-1] <= max(len(data) * BUDGET.max_fraction, BUDGET.min_top_bytes) + 64


def test_large_input_without_lines_cannot_be_predicted_by_prefixes() -> None:
    data = b"x" * (4 * 1024 * 1024)
    plan = plan_probes(data, describe_input(data), BUDGET)
    assert not plan.predicts
    assert "not line-oriented" in plan.reason
