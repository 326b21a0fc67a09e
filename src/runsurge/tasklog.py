"""How a log line names a task: `job=… task=… attempt=…`, alike on coordinator and agent.

One task's story runs through both roles' logs (assigned, running, finished, reported,
lost, requeued); with the same three ids in the same form on every line, one grep
finds all of it. The ids also ride in each record's `extra` (`job_id`, `task_index`,
`attempt_id`) for handlers that emit structured records. Tests count executions from
the agent's `running job=… task=… attempt=…` lines (tests/integration/executions.py).
Deliberately light: imports nothing of RunSurge, so either role can use it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TaskIds:
    """The ids that name one task (and one attempt at it) in a log line."""

    job_id: str
    task_index: int
    attempt_id: int | None = None  # None: the task never had an attempt

    def __str__(self) -> str:
        attempt = "-" if self.attempt_id is None else str(self.attempt_id)
        return f"job={self.job_id} task={self.task_index} attempt={attempt}"

    @property
    def extra(self) -> dict[str, object]:
        """For `logging`'s `extra=`: the same ids as record attributes."""
        return {"job_id": self.job_id, "task_index": self.task_index, "attempt_id": self.attempt_id}
