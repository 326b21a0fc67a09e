"""Property tests: whatever happens, the ledger balances, respects limits, ignores replays."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from decimal import Decimal

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from runsurge.billing import ledger
from runsurge.billing.pricing import Pricing
from runsurge.billing.terms import Billing, SpendingRules
from runsurge.coordinator import jobs
from runsurge.errors import Conflict, LimitExceeded
from runsurge.kinds import OutcomeKind
from runsurge.store.models import Account, LedgerEntry
from tests.unit.coordinator.billing_checks import assert_ledger_consistent
from tests.unit.coordinator.scene import Scene

MB = 10**6
OUTCOMES = [
    OutcomeKind.OK,
    OutcomeKind.SCRIPT_ERROR,
    OutcomeKind.TIMEOUT,
    OutcomeKind.INFRASTRUCTURE,
    OutcomeKind.CANCELLED,
    OutcomeKind.OUT_OF_MEMORY,
]


@dataclass(frozen=True)
class Credit:
    who: int
    micros: int


@dataclass(frozen=True)
class Submit:
    who: int
    inputs: int


@dataclass(frozen=True)
class Run:
    outcome: OutcomeKind
    wall_seconds: float
    average_memory_bytes: int


@dataclass(frozen=True)
class Replay:
    pass


@dataclass(frozen=True)
class Cancel:
    job: int


Step = Credit | Submit | Run | Replay | Cancel
STEPS = st.lists(
    st.one_of(
        st.builds(Credit, st.integers(0, 2), st.integers(1, 5_000_000)),
        st.builds(Submit, st.integers(0, 2), st.integers(1, 3)),
        st.builds(
            Run,
            st.sampled_from(OUTCOMES),
            # Sizes that matter, over what hypothesis would shrink towards: beyond the
            # lease window and the memory limit too (the usage clamp applies).
            st.sampled_from([0.0, 0.25, 3.0, 100.0]),
            st.sampled_from([0, 1 * MB, 50 * MB, 500 * MB]),
        ),
        st.builds(Replay),
        st.builds(Cancel, st.integers(0, 20)),
    ),
    max_size=20,
)
BILLING = Billing(
    Pricing(
        price_per_mb_second=Decimal("0.001"),
        platform_fee_share=Decimal("0.15"),
        quote_task_seconds=0.5,  # under-quotes on purpose: charges meet the limit
    ),
    SpendingRules(enforced=True, default_limit=Decimal("0.1")),
)


def _money(scene: Scene) -> tuple[list[tuple[int, int]], int]:
    """Every account's balance and the number of entries: what a replay must not move."""
    return scene.db.call(
        lambda s: (
            list(s.execute(select(Account.id, Account.balance_micros).order_by(Account.id))),
            s.scalar(select(func.count()).select_from(LedgerEntry)) or 0,
        )
    )


class _World:
    """One example's consumers, contributor, jobs and last report."""

    def __init__(self, scene: Scene) -> None:
        self.scene = scene
        self.consumers = [scene.consumer(f"c{i}") for i in range(3)]
        self.machine = scene.contributor()
        self.jobs: list[tuple[str, str]] = []
        self.last: Run | None = None
        self.last_attempt = 0

    def step(self, op: Step) -> None:
        scene = self.scene
        if isinstance(op, Credit):
            scene.db.call(ledger.credit, self.consumers[op.who], Decimal(op.micros) / 10**6)
        elif isinstance(op, Submit):
            who = self.consumers[op.who]
            with contextlib.suppress(LimitExceeded):
                self.jobs.append((who, scene.submit(who, [b"x"] * op.inputs, reservation=20 * MB)))
        elif isinstance(op, Run):
            assignment = scene.claim(self.machine)
            if assignment is not None:
                self.last = Run(op.outcome, op.wall_seconds, op.average_memory_bytes)
                self.last_attempt = assignment.attempt_id
                self._report(assignment.attempt_id, self.last)
        elif isinstance(op, Replay) and self.last is not None:
            before = _money(scene)
            self._report(self.last_attempt, self.last)
            assert _money(scene) == before, "a replayed report moved money"
        elif isinstance(op, Cancel) and self.jobs:
            who, job_id = self.jobs[op.job % len(self.jobs)]
            with contextlib.suppress(Conflict):
                scene.db.call(jobs.cancel_job, who, job_id)

    def _report(self, attempt_id: int, run: Run) -> None:
        self.scene.report(
            self.machine,
            attempt_id,
            run.outcome,
            result=b"{}" if run.outcome is OutcomeKind.OK else None,
            wall_seconds=run.wall_seconds,
            average_memory_bytes=run.average_memory_bytes,
        )


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=STEPS)
# An under-quoted job whose charge meets the spending limit, then its replay.
@example(steps=[Submit(0, 1), Run(OutcomeKind.OK, 100.0, 500 * MB), Replay()])
def test_every_ledger_state_balances_stays_within_limits_and_ignores_replays(
    scene: Scene, steps: list[Step]
) -> None:
    scene.billing = BILLING
    world = _World(scene)
    for op in steps:
        world.step(op)
        scene.db.call(assert_ledger_consistent, BILLING.rules)
