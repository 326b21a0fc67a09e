"""How much memory a task reserves: at first, and after it was killed for exceeding it.

A reservation is also the attempt's hard memory limit (policy.py): a task that
outgrows it is killed by its own cgroup, so it never takes memory another tenant's
task was promised. After such a kill the task is retried with the peak it reached
times a growth factor, capped by the consumer's per-job limit (`--memory`) and by
the largest contributor connected; never unbounded. Reservations are rounded up to
`RESERVATION_STEP` so that nodes are not cut into odd-sized holes.
"""

from __future__ import annotations

from dataclasses import dataclass

from runsurge.config import format_size
from runsurge.kinds import EstimateSource

MIB = 1024 * 1024
RESERVATION_STEP = 16 * MIB
# CPython and the harness need about 10 MiB before the script runs; below this a
# task cannot start at all, so a smaller per-job limit is refused at submission.
MIN_TASK_MEMORY = 32 * MIB
# A task its probes predict above this many times a cap fails without being run.
FAIL_FAST_OVER = 1.5


def round_up(size: int) -> int:
    """`size` rounded up to a whole number of reservation steps (at least one)."""
    steps = max(1, -(-size // RESERVATION_STEP))
    return steps * RESERVATION_STEP


@dataclass(frozen=True)
class StartingEstimate:
    """A new task's reservation, and the estimate behind it (0 bytes: none)."""

    reservation_bytes: int
    estimate_bytes: int = 0
    source: EstimateSource = EstimateSource.DEFAULT
    confidence: float = 0.0
    raw_bytes: int = 0  # the estimate before its margin (margins.py calibrates from it)


def reservation_for(peak_bytes: int, job_limit_bytes: int | None) -> int:
    """An estimated peak as a reservation: whole steps, enough to start, within the limit."""
    reservation = max(MIN_TASK_MEMORY, round_up(peak_bytes))
    return min(reservation, job_limit_bytes) if job_limit_bytes else reservation


def initial_reservation(default_bytes: int, job_limit_bytes: int) -> int:
    """A new task's reservation: the default, never above the job's limit (0: none)."""
    if job_limit_bytes:
        return min(default_bytes, job_limit_bytes)
    return default_bytes


@dataclass(frozen=True)
class Growth:
    """The next reservation after an out-of-memory kill, or why there is none."""

    reservation_bytes: int
    retry: bool
    reason: str


def after_out_of_memory(
    reservation_bytes: int,
    peak_bytes: int,
    growth_factor: float,
    largest_offer_bytes: int,
    job_limit_bytes: int,
    predicted_bytes: int = 0,
) -> Growth:
    """Grow a killed task's reservation from the peak it reached, within both caps.

    `predicted_bytes` is set when the task never ran: its contributor's probes predicted
    that peak, above the reservation. The estimate already holds its margin, so the
    task is requeued with it as it is; beyond a cap it fails at once, saying how much
    it needs, rather than being killed at the cap first.
    """
    if predicted_bytes:
        return _as_predicted(predicted_bytes, largest_offer_bytes, job_limit_bytes)
    killed_at = format_size(reservation_bytes)
    if job_limit_bytes and reservation_bytes >= job_limit_bytes:
        return Growth(
            reservation_bytes,
            False,
            f"out of memory at {killed_at}, the job's memory limit (--memory); "
            "raise the limit to run this input",
        )
    cap = min(largest_offer_bytes, job_limit_bytes) if job_limit_bytes else largest_offer_bytes
    if reservation_bytes >= cap:
        return Growth(
            reservation_bytes,
            False,
            f"out of memory at {killed_at}, the largest reservation any connected "
            f"contributor can hold ({format_size(largest_offer_bytes)})",
        )
    wanted = round_up(int(max(reservation_bytes, peak_bytes) * growth_factor))
    grown = min(wanted, cap)
    return Growth(
        grown,
        True,
        f"out of memory at {killed_at}; retrying with {format_size(grown)}",
    )


def _as_predicted(predicted_bytes: int, largest_offer_bytes: int, job_limit_bytes: int) -> Growth:
    """The next reservation of a task its probes said would outgrow its reservation.

    An estimate is an upper bound with a margin, so a task predicted a little above a
    cap may still fit under it: it runs at the cap, where the kernel decides. Only a
    prediction beyond `FAIL_FAST_OVER` times the cap fails the task without a run.
    """
    needs = reservation_for(predicted_bytes, None)
    said = f"probes predict a peak of {format_size(predicted_bytes)}"
    if job_limit_bytes and job_limit_bytes <= largest_offer_bytes:
        cap, which = job_limit_bytes, "the job's memory limit (--memory)"
        advice = "; raise the limit to run this input"
    else:
        cap, which, advice = largest_offer_bytes, "what any connected contributor can hold", ""
    if needs <= cap:
        return Growth(needs, True, f"{said}; running it with {format_size(needs)}")
    if predicted_bytes > FAIL_FAST_OVER * cap:
        return Growth(needs, False, f"{said}, more than {which} ({format_size(cap)}){advice}")
    return Growth(cap, True, f"{said}, a little above {which}; running it with {format_size(cap)}")
