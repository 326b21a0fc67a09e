"""What the local engine's running inputs may reserve at once: never more than the machine.

A coordinator places a task only on a contributor with its reservation free; the
local engine does the same on this one machine. Each input holds its job's memory
limit while it runs, and waits while the others' limits would pass the budget (by
default 80 % of this machine's RAM), so `workers` large inputs never ask for more
memory together than there is. An input whose limit alone passes the budget could
never start: it fails at once, saying so, as an unplaceable task does.
"""

from __future__ import annotations

import os
import threading

from runsurge.config import format_size

DEFAULT_SHARE = 0.8


def machine_memory_bytes() -> int:
    """This machine's RAM (0 where the platform does not say)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 0


def default_budget() -> int:
    """80 % of this machine's RAM, or no limit (0) where it is unknown."""
    return int(machine_memory_bytes() * DEFAULT_SHARE)


class TooLarge(Exception):
    """An input's memory limit alone is more than the budget."""


class MemoryBudget:
    """Reservations held by running inputs; `budget_bytes` 0 means no limit."""

    def __init__(self, budget_bytes: int) -> None:
        self.budget_bytes = budget_bytes
        self.held_bytes = 0
        self._changed = threading.Condition()

    def check(self, nbytes: int) -> None:
        """Raise TooLarge, saying why, when `nbytes` could never be reserved."""
        if self.budget_bytes and nbytes > self.budget_bytes:
            raise TooLarge(
                f"its memory limit of {format_size(nbytes)} is more than the "
                f"{format_size(self.budget_bytes)} local runs may reserve on this machine "
                "(Client(local=True, memory_budget=...)); lower the job's memory"
            )

    def reserve(self, nbytes: int, stop: threading.Event) -> bool:
        """Wait until `nbytes` fits beside what is held, then hold it; False if `stop`
        was set first (the input was cancelled while it waited)."""
        self.check(nbytes)
        with self._changed:
            while self.budget_bytes and self.held_bytes + nbytes > self.budget_bytes:
                if stop.is_set():
                    return False
                self._changed.wait(0.1)
            if stop.is_set():
                return False
            self.held_bytes += nbytes
            return True

    def release(self, nbytes: int) -> None:
        """Give back what `reserve` held."""
        with self._changed:
            self.held_bytes -= nbytes
            self._changed.notify_all()
