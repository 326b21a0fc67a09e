"""cgroup v1 task cgroups: one directory per hierarchy (memory, pids, optional cpu, cpuacct).

v1 has no ``cgroup.kill``; processes are SIGKILLed from ``cgroup.procs`` until it
lists none.  The memory limit is set on ``memory.limit_in_bytes`` and, when swap
accounting exists, on ``memory.memsw.limit_in_bytes`` too, so swapping cannot
stretch it.  OOM kills are counted in ``memory.oom_control`` (``oom_kill N``).  The
CPU cap is ``cpu.cfs_quota_us`` per ``cpu.cfs_period_us``; ``cpu`` and ``cpuacct`` are
often one hierarchy (``cpu,cpuacct``), and then share one directory.
"""

from __future__ import annotations

from pathlib import Path

from runsurge.sandbox.cgroups import (
    CPU_PERIOD_US,
    CgroupError,
    CgroupMount,
    TaskCgroup,
    cpu_quota_us,
    kill_until_empty,
    new_task_name,
    read_int,
    read_keyed,
    read_pids,
    read_text,
    remove_dirs,
    write_value,
)
from runsurge.sandbox.policy import SandboxPolicy


class CgroupV1Task:
    """A task's directories in the v1 memory, pids and (optionally) cpuacct hierarchies."""

    def __init__(self, dirs: dict[str, Path]) -> None:
        self._dirs = dirs
        self._memory = dirs["memory"]
        self._pids = dirs["pids"]
        self._cpuacct = dirs.get("cpuacct")
        self._cpu = dirs.get("cpu")
        self._freezer = dirs.get("freezer")

    @property
    def description(self) -> str:
        """The memory directory stands for the set."""
        return f"cgroup v1 {self._memory}"

    def configure(self, policy: SandboxPolicy) -> None:
        """Apply the policy's memory (swap off), pids and CPU limits."""
        write_value(self._memory / "memory.limit_in_bytes", policy.memory_bytes)
        memsw = self._memory / "memory.memsw.limit_in_bytes"
        if memsw.exists():  # only with swap accounting; must be >= limit_in_bytes
            write_value(memsw, policy.memory_bytes)
        write_value(self._pids / "pids.max", policy.pids)
        if self._cpu is not None:
            write_value(self._cpu / "cpu.cfs_period_us", CPU_PERIOD_US)
            write_value(self._cpu / "cpu.cfs_quota_us", cpu_quota_us(policy.cpu_cores))

    def add(self, pid: int) -> None:
        """Join every hierarchy; a process outside one would escape that limit."""
        for directory in dict.fromkeys(self._dirs.values()):
            write_value(directory / "cgroup.procs", pid)

    def memory_bytes(self) -> int | None:
        """memory.usage_in_bytes."""
        return read_int(self._memory / "memory.usage_in_bytes")

    def peak_memory_bytes(self) -> int | None:
        """memory.max_usage_in_bytes."""
        return read_int(self._memory / "memory.max_usage_in_bytes")

    def reset_peak_memory(self) -> bool:
        """Writing to memory.max_usage_in_bytes resets it to the current usage."""
        try:
            write_value(self._memory / "memory.max_usage_in_bytes", 0)
        except CgroupError:
            return False
        return True

    def oom_kills(self) -> int:
        """The oom_kill counter of memory.oom_control."""
        return read_keyed(self._memory / "memory.oom_control", "oom_kill") or 0

    def cpu_seconds(self) -> float | None:
        """cpuacct.usage (nanoseconds) when the cpuacct hierarchy is used."""
        if self._cpuacct is None:
            return None
        nanoseconds = read_int(self._cpuacct / "cpuacct.usage")
        return None if nanoseconds is None else nanoseconds / 1e9

    def throttled_periods(self) -> int | None:
        """nr_throttled of cpu.stat, when the cpu hierarchy is used."""
        if self._cpu is None:
            return None
        return read_keyed(self._cpu / "cpu.stat", "nr_throttled")

    def freeze(self) -> bool:
        """Never on v1: a task frozen by the v1 freezer does not die of SIGKILL.

        An agent killed while a session sat frozen would leave it frozen for good
        (bubblewrap's --die-with-parent SIGKILL cannot reach it), so v1 sessions are
        not frozen; what they use between inputs is charged to the next input. v2's
        freezer lets fatal signals through, and is used there.
        """
        return False

    def thaw(self) -> None:
        """freezer.state = THAWED."""
        if self._freezer is not None:
            write_value(self._freezer / "freezer.state", "THAWED")

    def frozen(self) -> bool | None:
        """freezer.state reads FROZEN (FREEZING while it is still stopping them)."""
        if self._freezer is None:
            return None
        return (read_text(self._freezer / "freezer.state") or "").strip() == "FROZEN"

    def pids(self) -> list[int]:
        """Union of the hierarchies' cgroup.procs."""
        return sorted(
            {pid for d in set(self._dirs.values()) for pid in read_pids(d / "cgroup.procs")}
        )

    def kill_all(self, timeout: float = 2.0) -> bool:
        """SIGKILL until every hierarchy is empty; pids.max bounds how many can respawn."""
        return kill_until_empty((d / "cgroup.procs" for d in self._dirs.values()), timeout)

    def remove(self) -> list[str]:
        """Kill, verify empty, rmdir each directory."""
        problems: list[str] = []
        if not self.kill_all():
            problems.append(f"processes survived SIGKILL in {self.description}: {self.pids()}")
        problems += remove_dirs(self._dirs.values())
        return problems


class CgroupV1Host:
    """Creates task cgroups beneath this process's own v1 cgroups."""

    def __init__(self, mounts: dict[str, CgroupMount]) -> None:
        if "memory" not in mounts or "pids" not in mounts:
            raise CgroupError("cgroup v1 needs both the memory and the pids hierarchy")
        self._mounts = mounts

    @property
    def version(self) -> str:
        """Always "v1"."""
        return "v1"

    def create(self, policy: SandboxPolicy, tag: str = "") -> TaskCgroup:
        """mkdir in each hierarchy, then set limits; undo everything on failure."""
        name = new_task_name(tag)
        dirs: dict[str, Path] = {}
        try:
            for controller, mount in self._mounts.items():
                directory = mount.own_dir() / name
                if directory in dirs.values():  # co-mounted (cpu,cpuacct): one directory
                    dirs[controller] = directory
                    continue
                try:
                    directory.mkdir()
                except OSError as exc:
                    if controller in ("cpuacct", "cpu", "freezer"):
                        continue  # optional: rusage accounting, no cap, no idle freezing
                    raise CgroupError(
                        exc.errno, f"cannot create {directory}: {exc.strerror}"
                    ) from exc
                dirs[controller] = directory
            task = CgroupV1Task(dirs)
            task.configure(policy)
        except BaseException:
            remove_dirs(dirs.values())
            raise
        return task
