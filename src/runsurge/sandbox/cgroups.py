"""Per-task cgroups: memory (swap off) and pids limits, usage, OOM count, kill-all.

One small interface, `TaskCgroup`, with a v1 and a v2 implementation
(``_cgroup_v1.py``, ``_cgroup_v2.py``).  `find_cgroup_host()` reads
``/proc/self/cgroup`` and ``/proc/self/mountinfo`` to learn where this process's own
cgroups are; task cgroups are always created beneath them, never elsewhere in the
host's tree.  v2 is preferred when it has the memory and pids controllers (most
contributor hosts); otherwise v1's memory and pids hierarchies are used.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from runsurge.sandbox.policy import SandboxPolicy

TASK_PREFIX = "runsurge-task-"


class CgroupError(OSError):
    """A cgroup could not be created, configured or removed."""


class TaskCgroup(Protocol):
    """One task's cgroup(s): limits set at creation, then usage and clean-up."""

    @property
    def description(self) -> str:
        """Where it lives, for logs and error messages."""
        ...

    def add(self, pid: int) -> None:
        """Move a process (all its threads) into the task cgroup."""
        ...

    def memory_bytes(self) -> int | None:
        """Current memory charged to the task."""
        ...

    def peak_memory_bytes(self) -> int | None:
        """The kernel-recorded peak, when the kernel records one."""
        ...

    def reset_peak_memory(self) -> bool:
        """Restart the kernel's peak record from current usage; False when it cannot."""
        ...

    def oom_kills(self) -> int:
        """How many processes the OOM killer killed inside the task cgroup."""
        ...

    def cpu_seconds(self) -> float | None:
        """CPU time used by every process that ever ran in the cgroup."""
        ...

    def throttled_periods(self) -> int | None:
        """Scheduler periods in which the CPU cap held the task back (None: no cap here)."""
        ...

    def freeze(self) -> bool:
        """Stop every process in the cgroup (asynchronously); False without a freezer."""
        ...

    def thaw(self) -> None:
        """Let them run again; harmless when not frozen."""
        ...

    def frozen(self) -> bool | None:
        """Whether the kernel reports the cgroup frozen (None: no freezer)."""
        ...

    def pids(self) -> list[int]:
        """Processes currently in the cgroup."""
        ...

    def kill_all(self, timeout: float = 2.0) -> bool:
        """SIGKILL everything inside until empty; True when empty."""
        ...

    def remove(self) -> list[str]:
        """Kill what remains, remove the cgroup, and return any problem found."""
        ...


class CgroupHost(Protocol):
    """Creates task cgroups beneath this process's own cgroup."""

    @property
    def version(self) -> str:
        """ "v1" or "v2"."""
        ...

    def create(self, policy: SandboxPolicy, tag: str = "") -> TaskCgroup:
        """A fresh, uniquely named task cgroup with the policy's limits.

        `tag` (safe characters only) ends the name, so the host sees which task runs.
        """
        ...


@dataclass(frozen=True)
class CgroupMount:
    """A mounted cgroup hierarchy and this process's place in it."""

    mount_point: Path
    own_path: str  # from /proc/self/cgroup, e.g. "/process_api/abc"; "/" for the root
    mount_root: str = "/"  # the hierarchy path mounted there (not "/" in some containers)

    def own_dir(self) -> Path:
        """The directory of this process's cgroup in the hierarchy."""
        root = self.mount_root.rstrip("/")
        path = self.own_path
        if root and (path == root or path.startswith(root + "/")):
            path = path[len(root) :]
        return self.mount_point / path.lstrip("/")


def new_task_name(tag: str = "") -> str:
    """A unique name for one task's cgroup, `tag` appended (e.g. the task's label)."""
    return TASK_PREFIX + secrets.token_hex(6) + (f"-{tag}" if tag else "")


def parse_proc_cgroup(text: str) -> dict[str, str]:
    """Map each v1 controller (and "" for v2) to this process's cgroup path."""
    paths: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if not controllers:
            paths[""] = path
        for controller in controllers.split(","):
            if controller:
                paths[controller] = path
    return paths


def parse_mountinfo(
    text: str,
) -> tuple[dict[str, tuple[Path, str]], tuple[Path, str] | None]:
    """(mount point, mounted root) per v1 controller, and for v2, from /proc/self/mountinfo."""
    v1: dict[str, tuple[Path, str]] = {}
    v2: tuple[Path, str] | None = None
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3:
            continue
        mount = (Path(_unescape(fields[4])), _unescape(fields[3]))
        fstype, super_options = tail[0], tail[2].split(",")
        if fstype == "cgroup2" and v2 is None:
            v2 = mount
        elif fstype == "cgroup":
            for option in super_options:
                v1.setdefault(option, mount)
    return v1, v2


def _unescape(field: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as octal.
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def find_cgroup_host(
    proc_cgroup: Path = Path("/proc/self/cgroup"),
    mountinfo: Path = Path("/proc/self/mountinfo"),
) -> CgroupHost:
    """The best cgroup host for task cgroups, or CgroupError saying what is missing."""
    from runsurge.sandbox._cgroup_v1 import CgroupV1Host
    from runsurge.sandbox._cgroup_v2 import CgroupV2Host

    paths = parse_proc_cgroup(proc_cgroup.read_text())
    v1_mounts, v2_mount = parse_mountinfo(mountinfo.read_text())
    reasons: list[str] = []
    if v2_mount is not None and "" in paths:
        v2 = CgroupV2Host(CgroupMount(v2_mount[0], paths[""], v2_mount[1]))
        problem = v2.missing_controllers()
        if problem is None:
            return v2
        reasons.append(f"cgroup v2 at {v2_mount[0]}: {problem}")
    missing = [c for c in ("memory", "pids") if c not in v1_mounts or c not in paths]
    if not missing:
        mounts = {
            controller: CgroupMount(
                v1_mounts[controller][0], paths[controller], v1_mounts[controller][1]
            )
            for controller in ("memory", "pids", "cpuacct", "cpu", "freezer")
            if controller in v1_mounts and controller in paths
        }
        return CgroupV1Host(mounts)
    reasons.append(f"cgroup v1: no {' or '.join(missing)} hierarchy")
    raise CgroupError("; ".join(reasons))


# ----------------------------------------------------------------- shared file helpers

CPU_PERIOD_US = 100_000  # the kernel's default CFS period


def cpu_quota_us(cores: float) -> int:
    """The CFS quota for `cores` per period (the kernel's floor is 1 ms)."""
    return max(1_000, round(cores * CPU_PERIOD_US))


def read_text(path: Path) -> str | None:
    """File content, or None when the file does not exist (controller absent)."""
    try:
        return path.read_text()
    except FileNotFoundError:
        return None


def read_int(path: Path) -> int | None:
    """An integer file such as memory.current; None when absent or "max"."""
    text = read_text(path)
    if text is None:
        return None
    text = text.strip()
    return int(text) if text.isdigit() else None


def read_keyed(path: Path, key: str) -> int | None:
    """The value of `key` in a "key value" file such as memory.events or cpu.stat."""
    text = read_text(path)
    if text is None:
        return None
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name == key and value.strip().isdigit():
            return int(value)
    return None


def write_value(path: Path, value: str | int) -> None:
    """Write a control file; errors name the file."""
    try:
        with open(path, "w") as f:
            f.write(str(value))
    except OSError as exc:
        raise CgroupError(exc.errno, f"cannot write {value!r} to {path}: {exc.strerror}") from exc


def read_pids(procs_file: Path) -> list[int]:
    """PIDs listed in a cgroup.procs file (empty when the cgroup is gone)."""
    text = read_text(procs_file)
    return [int(line) for line in text.split()] if text else []


def kill_until_empty(procs_files: Iterable[Path], timeout: float) -> bool:
    """SIGKILL listed PIDs until no file lists any (v1, or v2 without cgroup.kill)."""
    files = list(procs_files)
    deadline = time.monotonic() + timeout
    while True:
        pids = {pid for procs in files for pid in read_pids(procs)}
        if not pids:
            return True
        if time.monotonic() > deadline:
            return False
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.0005)


def remove_dirs(dirs: Iterable[Path], timeout: float = 2.0) -> list[str]:
    """rmdir each cgroup directory, retrying while the kernel finishes tearing tasks down."""
    problems: list[str] = []
    for directory in dirs:
        deadline = time.monotonic() + timeout
        while True:
            try:
                directory.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError as exc:
                if time.monotonic() > deadline:
                    problems.append(f"cannot remove cgroup {directory}: {exc.strerror}")
                    break
                time.sleep(0.001)
    return problems
