"""The sandbox policy of an attempt, decided once, when the attempt is claimed.

`policy_for` is the one place that chooses an attempt's limits (memory, wall and CPU
time, pids, output, logs, work dir). The memory limit is the task's reservation
(the estimator's, grown by a retry after an out-of-memory kill); wall and CPU time
are the job's own (`--wall-time`, `--cpu-time`) where it lowered them, else the
coordinator's; everything else comes from the coordinator's defaults.
`claim_task` stores the decision on the attempt row, in the same transaction that
creates it, and sends it in the assignment, so the limits an attempt ran under stay
known after a restart, to billing and to the estimator.
"""

from __future__ import annotations

import dataclasses

from runsurge.estimate.probes import ProbeBudget
from runsurge.kinds import EstimateSource, TaskKind
from runsurge.sandbox.policy import SandboxPolicy
from runsurge.store.models import Attempt, Job, Task

# Inputs up to this size are run whole rather than probed (runsurge.estimate.probes).
PROBE_INPUT_OVER_BYTES = ProbeBudget().whole_input_bytes


def policy_for(task: Task, job: Job, defaults: SandboxPolicy) -> SandboxPolicy:
    """The limits the next attempt at `task` (of `job`) runs under.

    The job's own wall and CPU time limits when it set them, never above the
    coordinator's (submission refuses larger ones; the min guards rows from before a
    maximum was lowered).
    """
    return dataclasses.replace(
        defaults,
        memory_bytes=task.memory_reservation_bytes,
        wall_seconds=_within(job.wall_seconds, defaults.wall_seconds),
        cpu_seconds=_within(job.cpu_seconds, defaults.cpu_seconds),
    )


def _within(asked: float | None, ceiling: float) -> float:
    """The job's limit when it set one (> 0), bounded by the coordinator's.

    None is a Job built in memory and never stored (its column default not applied).
    """
    return min(asked, ceiling) if asked is not None and asked > 0 else ceiling


def wants_probe(task: Task) -> bool:
    """Whether the agent should probe the task's peak before its first attempt runs.

    Only where nothing measured stands behind the reservation (the default, or a
    static prior), only for an input large enough to have prefixes worth probing
    (a smaller one is run whole: the run is the probe), and only the first attempt:
    a retry already grows from a measured peak.
    """
    return (
        task.kind is TaskKind.PROCESS
        and task.attempt_count == 1  # counted by the claim that is asking
        and task.estimate_method in (EstimateSource.DEFAULT, EstimateSource.STATIC)
        and task.input_size > PROBE_INPUT_OVER_BYTES
    )


def record_policy(attempt: Attempt, policy: SandboxPolicy) -> None:
    """Store the decided policy on its attempt."""
    attempt.policy_memory_bytes = policy.memory_bytes
    attempt.policy_pids = policy.pids
    attempt.policy_cpu_seconds = policy.cpu_seconds
    attempt.policy_wall_seconds = policy.wall_seconds
    attempt.policy_max_output_bytes = policy.max_output_bytes
    attempt.policy_max_log_bytes = policy.max_log_bytes
    attempt.policy_workdir_bytes = policy.workdir_bytes


def recorded_policy(attempt: Attempt) -> SandboxPolicy:
    """The policy an attempt was given when it was claimed."""
    return SandboxPolicy(
        memory_bytes=attempt.policy_memory_bytes,
        pids=attempt.policy_pids,
        cpu_seconds=attempt.policy_cpu_seconds,
        wall_seconds=attempt.policy_wall_seconds,
        max_output_bytes=attempt.policy_max_output_bytes,
        max_log_bytes=attempt.policy_max_log_bytes,
        workdir_bytes=attempt.policy_workdir_bytes,
    )
