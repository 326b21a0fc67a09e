"""Round reservations up to coarse steps, so that they do not fragment a node's memory."""

from __future__ import annotations

MiB = 1024 * 1024


def round_up(nbytes: int, min_step: int = MiB, steps_per_doubling: int = 8) -> int:
    """The smallest bucket >= `nbytes`: steps of 1/`steps_per_doubling` of a power of two.

    Buckets waste at most 1/`steps_per_doubling` of a reservation (12.5 % by default) yet
    a node only ever sees a few distinct sizes per doubling; below `min_step` * the step
    count the step is `min_step`.
    """
    if nbytes <= 0:
        return min_step
    if min_step <= 0 or steps_per_doubling <= 0:
        raise ValueError("round_up needs a positive min_step and steps_per_doubling")
    power = 1 << max(nbytes.bit_length() - 1, 0)  # largest power of two <= nbytes
    step = max(min_step, power // steps_per_doubling)
    return -(-nbytes // step) * step
