"""Finished inputs' captured output, in the order they finished, for followers.

`runsurge watch` and `runsurge logs --follow` show each input's stdout and stderr as
soon as the coordinator has it (when an attempt at it settles). They poll with a
cursor, the finishing time and index of the last output they saw: many inputs can
finish at one instant (a cancel), so the index breaks the tie.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from runsurge.errors import NotFound
from runsurge.kinds import TaskKind
from runsurge.store.models import Job, Task

OUTPUTS_LIMIT_DEFAULT = 100
OUTPUTS_LIMIT_MAX = 1000


@dataclass(frozen=True)
class TaskOutputView:
    """One finished input's captured output."""

    index: int
    state: str
    logs: bytes
    truncated: bool
    finished_at: dt.datetime


def finished_outputs(
    session: Session,
    consumer_id: str,
    job_id: str,
    since: dt.datetime | None,
    after_index: int,
    limit: int,
    log_cap: int,
) -> list[TaskOutputView]:
    """Inputs of the consumer's job that finished after the cursor, in finishing order.

    NotFound for an unknown job or another consumer's. Logs filling `log_cap` (the
    coordinator's kept tail) are reported as truncated.
    """
    owner = session.scalar(select(Job.consumer_id).where(Job.id == job_id))
    if owner is None or owner != consumer_id:
        raise NotFound(f"no job with id {job_id!r}")
    query = select(Task).where(
        Task.job_id == job_id, Task.kind == TaskKind.PROCESS, Task.finished_at.is_not(None)
    )
    if since is not None:
        query = query.where(
            or_(
                Task.finished_at > since,
                and_(Task.finished_at == since, Task.index > after_index),
            )
        )
    limit = min(limit or OUTPUTS_LIMIT_DEFAULT, OUTPUTS_LIMIT_MAX)
    tasks = session.scalars(query.order_by(Task.finished_at, Task.index).limit(limit)).all()
    return [
        TaskOutputView(
            task.index,
            task.state.value,
            task.logs or b"",
            len(task.logs or b"") >= log_cap,
            task.finished_at,
        )
        for task in tasks
        if task.finished_at is not None
    ]
