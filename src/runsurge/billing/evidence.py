"""How fast a contributor's tasks really run, against other contributors on the same work.

The evidence is the contributor's latest successful input tasks (`window` of them,
each at least `min_seconds` long) set beside other contributors' successful attempts
of the same script hash on an input whose size is within `similar_size` of its own.
Each pair says what factor the contributor showed: the peer's wall seconds x the
peer's (verified) factor, over the contributor's wall seconds; a task's figure is the
median over its peers, and the contributor's the median over its tasks, so a few
odd inputs or a busy peer move it little. Flagged peers are no yardstick.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from typing import TYPE_CHECKING

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from runsurge.kinds import TaskKind
from runsurge.store.models import Attempt, Contributor, Job, Task
from runsurge.store.states import AttemptState

if TYPE_CHECKING:
    from runsurge.billing.factor import FactorRules

# Peers' attempts read per task of the contributor's (the query's bound).
_PEERS_PER_TASK = 10


def observed_speed(
    session: Session, contributor_id: str, rules: FactorRules
) -> tuple[float | None, int]:
    """The median speed ratio the contributor's tasks show, and how many tasks show one."""
    mine = session.execute(
        _successes(rules)
        .where(Attempt.contributor_id == contributor_id)
        .order_by(Attempt.id.desc())
        .limit(rules.window)
    ).all()
    if not mine:
        return None, 0
    scripts = {row.script_sha256 for row in mine}
    peers = session.execute(
        _successes(rules)
        .add_columns(Contributor.machine_factor)
        .join(Contributor, Contributor.id == Attempt.contributor_id)
        .where(
            Attempt.contributor_id != contributor_id,
            Job.script_sha256.in_(scripts),
            Contributor.factor_flagged.is_(False),
        )
        .order_by(Attempt.id.desc())
        .limit(rules.window * _PEERS_PER_TASK)
    ).all()
    by_script: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for peer in peers:
        by_script[peer.script_sha256].append(
            (peer.input_size, peer.wall_seconds * float(peer.machine_factor))
        )
    ratios = []
    for row in mine:
        baseline_seconds = [
            seconds
            for size, seconds in by_script.get(row.script_sha256, [])
            if _similar(size, row.input_size, rules.similar_size)
        ]
        if baseline_seconds:
            ratios.append(statistics.median(baseline_seconds) / row.wall_seconds)
    if not ratios:
        return None, 0
    return statistics.median(ratios), len(ratios)


def _successes(rules: FactorRules) -> Select[float, int, str]:
    """Successful input-task attempts long enough to time: wall seconds, size, script."""
    return (
        select(Attempt.wall_seconds, Task.input_size, Job.script_sha256)
        .join(Task, Task.id == Attempt.task_id)
        .join(Job, Job.id == Task.job_id)
        .where(
            Attempt.state == AttemptState.SUCCEEDED,
            Attempt.wall_seconds >= rules.min_seconds,
            Task.kind == TaskKind.PROCESS,
        )
    )


def _similar(a: int, b: int, ratio: float) -> bool:
    """Sizes within `ratio` of each other (empty inputs count as one byte)."""
    a, b = max(a, 1), max(b, 1)
    return max(a, b) <= min(a, b) * ratio
