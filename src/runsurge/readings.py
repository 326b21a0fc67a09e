"""What a node or task sample says: one shape for the agent that takes it and the
coordinator that stores it (no role imports, so both can use it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NodeReading:
    """The machine's use; CPU % is averaged since the previous reading."""

    cpu_percent: float
    memory_used_bytes: int
    memory_free_bytes: int
    load_1m: float
    disk_free_bytes: int


@dataclass(frozen=True)
class TaskReading:
    """One running attempt's CPU % (100 = one core) and memory."""

    attempt_id: int
    cpu_percent: float
    memory_bytes: int
