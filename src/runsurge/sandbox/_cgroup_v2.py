"""cgroup v2 task cgroups: one directory with memory.max, memory.swap.max=0, pids.max.

v2 forbids processes in a cgroup whose controllers are delegated to children ("no
internal processes").  If enabling memory and pids in this process's own cgroup
fails with EBUSY because the agent itself lives there, the agent's processes are
moved into a leaf ``runsurge-agent`` child first, the way systemd's ``Delegate=yes``
services are expected to arrange themselves.  Kill-all uses ``cgroup.kill`` (Linux
5.14+) and falls back to SIGKILLing ``cgroup.procs``. A warm session's per-input
peak resets ``memory.peak`` through its own descriptor (Linux 6.12+); on older kernels
the peak covers the cgroup's lifetime and the 20 ms samples stand in for it.
"""

from __future__ import annotations

import errno
import os
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

REQUIRED_CONTROLLERS = ("memory", "pids")
# Enabled for task cgroups where delegated; without it there is no CPU cap (reported).
OPTIONAL_CONTROLLERS = ("cpu",)
AGENT_LEAF = "runsurge-agent"


class CgroupV2Task:
    """One task's v2 cgroup directory."""

    def __init__(self, directory: Path) -> None:
        self._dir = directory
        # memory.peak opened read-write and reset (Linux 6.12+): its peak, read through
        # this descriptor, starts from the reset, so each warm input's peak is its own.
        self._peak_fd: int | None = None

    @property
    def description(self) -> str:
        """The directory."""
        return f"cgroup v2 {self._dir}"

    def configure(self, policy: SandboxPolicy) -> None:
        """memory.max, memory.swap.max=0 (when swap accounting exists), pids.max, cpu.max."""
        write_value(self._dir / "memory.max", policy.memory_bytes)
        swap = self._dir / "memory.swap.max"
        if swap.exists():
            write_value(swap, 0)
        write_value(self._dir / "pids.max", policy.pids)
        if (self._dir / "cpu.max").exists():
            write_value(self._dir / "cpu.max", f"{cpu_quota_us(policy.cpu_cores)} {CPU_PERIOD_US}")

    def add(self, pid: int) -> None:
        """Write the PID to cgroup.procs."""
        write_value(self._dir / "cgroup.procs", pid)

    def memory_bytes(self) -> int | None:
        """memory.current."""
        return read_int(self._dir / "memory.current")

    def peak_memory_bytes(self) -> int | None:
        """memory.peak (Linux 5.19+) since the last reset, else None: the samples' peak counts."""
        if self._peak_fd is not None:
            try:
                return int(os.pread(self._peak_fd, 64, 0))
            except (OSError, ValueError):
                return None
        return read_int(self._dir / "memory.peak")

    def reset_peak_memory(self) -> bool:
        """Restart memory.peak from current usage, for reads through one descriptor.

        Linux 6.12+ resets the peak seen through a descriptor that wrote to the file;
        older kernels refuse the open for writing (the file is read-only) or the write.
        False then: memory.peak covers the cgroup's lifetime, and the caller uses samples.
        """
        self._close_peak()
        try:
            fd = os.open(self._dir / "memory.peak", os.O_RDWR | os.O_CLOEXEC)
        except OSError:
            return False
        try:
            os.write(fd, b"reset\n")
        except OSError:
            os.close(fd)
            return False
        self._peak_fd = fd
        return True

    def _close_peak(self) -> None:
        if self._peak_fd is not None:
            os.close(self._peak_fd)
            self._peak_fd = None

    def oom_kills(self) -> int:
        """oom_kill in memory.events."""
        return read_keyed(self._dir / "memory.events", "oom_kill") or 0

    def throttled_periods(self) -> int | None:
        """nr_throttled of cpu.stat, when the cpu controller caps this cgroup."""
        if not (self._dir / "cpu.max").exists():
            return None
        return read_keyed(self._dir / "cpu.stat", "nr_throttled")

    def freeze(self) -> bool:
        """cgroup.freeze = 1 (every v2 cgroup but the root has it)."""
        if not (self._dir / "cgroup.freeze").exists():
            return False
        write_value(self._dir / "cgroup.freeze", 1)
        return True

    def thaw(self) -> None:
        """cgroup.freeze = 0."""
        if (self._dir / "cgroup.freeze").exists():
            write_value(self._dir / "cgroup.freeze", 0)

    def frozen(self) -> bool | None:
        """frozen in cgroup.events."""
        if not (self._dir / "cgroup.freeze").exists():
            return None
        return read_keyed(self._dir / "cgroup.events", "frozen") == 1

    def cpu_seconds(self) -> float | None:
        """usage_usec of cpu.stat (present without the cpu controller)."""
        usec = read_keyed(self._dir / "cpu.stat", "usage_usec")
        return None if usec is None else usec / 1e6

    def pids(self) -> list[int]:
        """cgroup.procs."""
        return read_pids(self._dir / "cgroup.procs")

    def populated(self) -> bool:
        """cgroup.events says whether any process is left."""
        return read_keyed(self._dir / "cgroup.events", "populated") == 1

    def kill_all(self, timeout: float = 2.0) -> bool:
        """cgroup.kill when the kernel has it, else SIGKILL loop over cgroup.procs."""
        kill_file = self._dir / "cgroup.kill"
        if kill_file.exists():
            write_value(kill_file, 1)
        return kill_until_empty([self._dir / "cgroup.procs"], timeout)

    def remove(self) -> list[str]:
        """Kill, verify empty, rmdir."""
        self._close_peak()
        problems: list[str] = []
        if not self.kill_all():
            problems.append(f"processes survived SIGKILL in {self.description}: {self.pids()}")
        problems += remove_dirs([self._dir])
        return problems


class CgroupV2Host:
    """Creates task cgroups beneath this process's own v2 cgroup."""

    def __init__(self, mount: CgroupMount) -> None:
        self._parent = mount.own_dir()
        self._prepared = False

    @property
    def version(self) -> str:
        """Always "v2"."""
        return "v2"

    @property
    def parent(self) -> Path:
        """The cgroup task cgroups are created in."""
        return self._parent

    def missing_controllers(self) -> str | None:
        """Why task cgroups cannot get memory and pids limits here, or None."""
        available = (read_text(self._parent / "cgroup.controllers") or "").split()
        missing = [c for c in REQUIRED_CONTROLLERS if c not in available]
        if missing:
            return f"controller(s) {', '.join(missing)} not delegated to {self._parent}"
        return None

    def prepare(self) -> None:
        """Enable memory and pids for children, moving the agent to a leaf if v2 requires."""
        enabled = (read_text(self._parent / "cgroup.subtree_control") or "").split()
        available = (read_text(self._parent / "cgroup.controllers") or "").split()
        optional = [c for c in OPTIONAL_CONTROLLERS if c in available]
        wanted = [c for c in (*REQUIRED_CONTROLLERS, *optional) if c not in enabled]
        if wanted:
            request = " ".join(f"+{c}" for c in wanted)
            try:
                write_value(self._parent / "cgroup.subtree_control", request)
            except CgroupError as exc:
                if exc.errno != errno.EBUSY:
                    raise
                self._move_own_processes_to_leaf()
                write_value(self._parent / "cgroup.subtree_control", request)
        self._prepared = True

    def _move_own_processes_to_leaf(self) -> None:
        leaf = self._parent / AGENT_LEAF
        leaf.mkdir(exist_ok=True)
        for pid in read_pids(self._parent / "cgroup.procs"):
            try:
                write_value(leaf / "cgroup.procs", pid)
            except CgroupError as exc:
                if exc.errno != errno.ESRCH:  # exited meanwhile
                    raise

    def create(self, policy: SandboxPolicy, tag: str = "") -> TaskCgroup:
        """mkdir a task cgroup and set its limits; undo on failure."""
        if not self._prepared:
            self.prepare()
        directory = self._parent / new_task_name(tag)
        try:
            directory.mkdir()
        except OSError as exc:
            raise CgroupError(exc.errno, f"cannot create {directory}: {exc.strerror}") from exc
        task = CgroupV2Task(directory)
        try:
            task.configure(policy)
        except BaseException:
            remove_dirs([directory])
            raise
        return task
