"""Per-process rlimits derived from a policy: the layer that works without cgroups.

rlimits are per process, so they back up the cgroup (which covers the whole task)
rather than replace it.  Memory uses RLIMIT_DATA, not RLIMIT_AS: glibc reserves
64 MiB PROT_NONE arenas per thread, which count toward the address space but not
toward the data segment, so RLIMIT_AS fails ordinary threaded programs long before
they use real memory.  The headroom covers thread stacks (one RLIMIT_STACK per
allowed task) and the interpreter's own mappings.
"""

from __future__ import annotations

import math
import resource
from dataclasses import dataclass

from runsurge.sandbox.policy import MiB, SandboxPolicy

STACK_BYTES = 8 * MiB
DATA_HEADROOM = 256 * MiB
OPEN_FILES = 256


@dataclass(frozen=True)
class Rlimit:
    """One limit: the resource module's name and (soft, hard)."""

    name: str
    soft: int
    hard: int

    @property
    def resource(self) -> int:
        """The resource module's constant."""
        value: int = getattr(resource, self.name)
        return value


def limits_for(policy: SandboxPolicy, nproc: int | None) -> list[Rlimit]:
    """The rlimits one task runs under.

    RLIMIT_CPU: soft at the policy (SIGXCPU), hard one second later (SIGKILL).
    RLIMIT_NPROC counts per user (per user namespace under bubblewrap); pass None
    where it would count unrelated processes of the same user.
    """
    cpu_soft = max(1, math.ceil(policy.cpu_seconds))
    data = policy.memory_bytes + DATA_HEADROOM + policy.pids * STACK_BYTES
    limits = [
        Rlimit("RLIMIT_CPU", cpu_soft, cpu_soft + 1),
        Rlimit("RLIMIT_DATA", data, data),
        Rlimit("RLIMIT_STACK", STACK_BYTES, STACK_BYTES),
        Rlimit("RLIMIT_FSIZE", policy.workdir_bytes, policy.workdir_bytes),
        Rlimit("RLIMIT_NOFILE", OPEN_FILES, OPEN_FILES),
        Rlimit("RLIMIT_CORE", 0, 0),
        Rlimit("RLIMIT_MEMLOCK", 0, 0),
        Rlimit("RLIMIT_MSGQUEUE", 0, 0),
    ]
    if nproc is not None:
        limits.append(Rlimit("RLIMIT_NPROC", nproc, nproc))
    return limits


def apply_to_pid(pid: int, limits: list[Rlimit]) -> None:
    """Set limits on another process (prlimit(2)); it passes them on to its children."""
    for limit in limits:
        resource.prlimit(pid, limit.resource, (limit.soft, limit.hard))


def harness_spec(limits: list[Rlimit]) -> str:
    """The ``rlimits=`` argument of the harness, which applies them to itself."""
    return ",".join(f"{limit.name}:{limit.soft}:{limit.hard}" for limit in limits)
