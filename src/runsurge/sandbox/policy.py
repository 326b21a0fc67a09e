"""Per-task resource limits, chosen by the coordinator and enforced by the sandbox."""

from __future__ import annotations

from dataclasses import dataclass

MiB = 1024 * 1024


@dataclass(frozen=True)
class SandboxPolicy:
    """Limits for one task run; every field has a safe default.

    The coordinator sends a policy with each assignment (memory from the estimator);
    the contributor never loosens it, only clamps it to what the machine offers.
    """

    memory_bytes: int = 512 * MiB
    pids: int = 64
    cpu_seconds: float = 600.0
    wall_seconds: float = 900.0
    max_output_bytes: int = 64 * MiB
    max_log_bytes: int = 1 * MiB
    workdir_bytes: int = 64 * MiB
    # Cores the task was admitted for: a CPU bandwidth cap (cfs quota / cpu.max), so a
    # task that forks spinners cannot take other tenants' cores on the same machine.
    cpu_cores: float = 1.0

    def __post_init__(self) -> None:
        for name in (
            "memory_bytes",
            "pids",
            "cpu_seconds",
            "wall_seconds",
            "max_output_bytes",
            "max_log_bytes",
            "workdir_bytes",
            "cpu_cores",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"SandboxPolicy.{name} must be positive")
