"""What this machine can offer: cores and memory, clamped to what it really has."""

from __future__ import annotations

import os

import psutil

from runsurge.errors import ConfigError


def offered_cores(requested: int) -> int:
    """Cores to offer: the request, at least 1 and at most the machine's count."""
    available = os.cpu_count() or 1
    if requested < 1:
        raise ConfigError(f"--cores must be at least 1 (got {requested})")
    return min(requested, available)


def offered_memory(requested: int) -> int:
    """Memory to offer: the request (0 = half of RAM), at most 90% of RAM."""
    total = psutil.virtual_memory().total
    if requested < 0:
        raise ConfigError("--memory must be positive")
    if requested == 0:
        return total // 2
    return min(requested, int(total * 0.9))
