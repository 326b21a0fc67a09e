"""Starting one bubblewrap sandbox with its cgroup and rlimits, and tearing it down.

The start is a handshake, so that no process of the task ever runs outside its
cgroup or without its rlimits:

1. create the task cgroup; spawn bubblewrap with ``--info-fd`` and ``--block-fd`` and
   move it into the cgroup at once;
2. bubblewrap reports the sandbox's first process (``child-pid``) and then waits,
   before the harness exists, until the agent writes to the block fd;
3. the agent makes sure that process is in the cgroup too (it was cloned either
   inside, or just before the move), then releases it; everything the task forks
   inherits the cgroup.  The launch chain and bubblewrap's own monitor are charged
   to the task as well (about 2 MiB).

rlimits are applied by the harness to itself as its first act, before it forks the
worker (lowering one's own limits needs no privilege; ``prlimit`` on the sandbox's
process would need CAP_SYS_RESOURCE, which container hosts often withhold).  Doing
it inside also makes RLIMIT_NPROC count per sandbox: it is counted per user
namespace, against the limit its creator had, and bubblewrap creates the namespace
before any limit is lowered.

Teardown kills the whole cgroup (or process group), reaps bubblewrap, removes the
cgroup and checks nothing survived.  The work directory is a tmpfs inside the
task's mount namespace: it ceases to exist with the last process of the task.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from runsurge.sandbox import bwrap, channels, rlimits, seccomp
from runsurge.sandbox.bwrap import Launcher, SandboxFds
from runsurge.sandbox.cgroups import CgroupError, CgroupHost, TaskCgroup
from runsurge.sandbox.channels import HarnessChannels
from runsurge.sandbox.policy import SandboxPolicy
from runsurge.sandbox.runner import RunRequest
from runsurge.sandbox.runtime import PythonRuntime
from runsurge.sandbox.supervise import Child, process_group_alive
from runsurge.sandbox.uids import UidPool, UidsExhausted

START_TIMEOUT = 10.0
HOST_ENV = {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "LANG": "C.UTF-8"}


class SandboxStartError(Exception):
    """The sandbox could not be started; not the script's fault."""


@dataclass
class LaunchedSandbox:
    """A running sandbox: bubblewrap, its cgroup and the agent's diagnostics pipe."""

    child: Child
    cgroup: TaskCgroup | None
    diag_fd: int
    started: float
    uid: int | None = None  # this sandbox's own host uid, given back at teardown
    uids: UidPool | None = None
    _torn_down: bool = field(default=False)

    def kill_all(self) -> None:
        """SIGKILL every process of the task, wherever it forked to."""
        if self.cgroup is not None:
            self.cgroup.thaw()  # a frozen process would not die of SIGKILL until thawed
            self.cgroup.kill_all()
        _kill_group(self.child.pid)

    def teardown(self) -> list[str]:
        """Kill, reap, remove the cgroup, verify; return what could not be cleaned."""
        if self._torn_down:
            return []
        self._torn_down = True
        problems: list[str] = []
        self.kill_all()
        if not self.child.wait(5.0):
            problems.append(f"bubblewrap (pid {self.child.pid}) did not exit after SIGKILL")
        if self.cgroup is not None:
            problems += self.cgroup.remove()
        if process_group_alive(self.child.pid):
            problems.append(f"processes remain in process group {self.child.pid}")
        os.close(self.diag_fd)
        if self.uids is not None and self.uid is not None:
            self.uids.release(self.uid, clean=not problems)
        return problems


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


class SandboxLauncher:
    """Everything needed to start sandboxes that does not change per task."""

    def __init__(
        self,
        launcher: Launcher,
        runtime: PythonRuntime,
        harness: tuple[bytes, str],
        cgroups: CgroupHost | None,
        use_seccomp: bool,
        uids: UidPool | None = None,
    ) -> None:
        self.launcher = launcher
        self.runtime = runtime
        self.harness_bytes, self.harness_inside = harness
        self.cgroups = cgroups
        self.use_seccomp = use_seccomp
        self.uids = uids

    def start(self, request: RunRequest, pipes: HarnessChannels, nonce: bytes) -> LaunchedSandbox:
        """Spawn, place in the cgroup, apply rlimits, release, send the nonce."""
        args = pipes.harness_args(
            request, bwrap.SCRIPT_INSIDE, rlimits=rlimits_spec(request.policy)
        )
        return self._start(
            _Spawn(request.policy, request.script, args, pipes.child_fds, request.label),
            after_spawn=pipes.close_child_ends,
            after_release=lambda: pipes.send_nonce(nonce),
        )

    def start_session(
        self,
        script: Path,
        policy: SandboxPolicy,
        harness_args: list[str],
        control: socket.socket,
        label: str = "",
    ) -> LaunchedSandbox:
        """Spawn a warm-session harness; `control` (its end of the socket) is closed here."""
        return self._start(
            _Spawn(policy, script, harness_args, (control.fileno(),), label),
            after_spawn=control.close,
            after_release=lambda: None,
        )

    def _start(
        self,
        spawn: _Spawn,
        after_spawn: Callable[[], None],
        after_release: Callable[[], None],
    ) -> LaunchedSandbox:
        policy, harness_args, child_fds = spawn.policy, spawn.harness_args, spawn.child_fds
        cgroup = self._create_cgroup(policy, spawn.label)
        owned: list[int] = []
        process: subprocess.Popen[bytes] | None = None
        uid: int | None = None
        try:
            if self.uids is not None:
                uid = self.uids.acquire()
            diag_read, diag_write = os.pipe()
            owned += [diag_read, diag_write]
            info_read, info_write = os.pipe()
            owned += [info_read, info_write]
            block_read, block_write = os.pipe()
            owned += [block_read, block_write]
            harness_fd = _memfd("runsurge-harness", self.harness_bytes)
            owned.append(harness_fd)
            script_fd = os.open(spawn.script, os.O_RDONLY | os.O_CLOEXEC)
            owned.append(script_fd)
            seccomp_fd = seccomp.program_fd() if self.use_seccomp else None
            seal_fd = seccomp.seal_fd() if self.use_seccomp else None
            for fd in (seccomp_fd, seal_fd):
                if fd is not None:
                    owned.append(fd)
            if seal_fd is not None:
                harness_args = [*harness_args, f"seal={seal_fd}"]
            config_fd = channels.config_fd(harness_args)
            owned.append(config_fd)
            fds = SandboxFds(
                info=info_write,
                block=block_read,
                seccomp=seccomp_fd if seccomp_fd is not None else -1,
                harness=harness_fd,
                script=script_fd,
                harness_args=(f"config={config_fd}",),
                harness_inside=self.harness_inside,
            )
            argv = bwrap.bwrap_argv(self.launcher, self.runtime, policy, fds)
            if seccomp_fd is None:
                argv = _without_option(argv, "--seccomp")
            pass_fds = [info_write, block_read, harness_fd, script_fd, config_fd, *child_fds]
            pass_fds += [fd for fd in (seccomp_fd, seal_fd) if fd is not None]
            process = subprocess.Popen(
                self.launcher.wrap(argv, self.runtime, uid),
                stdin=subprocess.DEVNULL,
                stdout=diag_write,
                stderr=diag_write,
                pass_fds=pass_fds,
                start_new_session=True,
                env=HOST_ENV,
            )
            if cgroup is not None:
                # Moving a process between v1 cgroups waits for an RCU grace period (often
                # 5-15 ms).  Doing it now overlaps that wait with bubblewrap's own set-up,
                # and the sandbox's first process is then usually born inside the cgroup.
                cgroup.add(process.pid)
            child_only = (diag_write, info_write, block_read, harness_fd, script_fd, config_fd)
            for fd in (*child_only, seccomp_fd, seal_fd):
                if fd is not None:
                    os.close(fd)
                    owned.remove(fd)
            after_spawn()
            child_pid = _read_child_pid(info_read, process, diag_read)
            if cgroup is not None:
                cgroup.add(child_pid)  # in case it was cloned before the move above
            started = time.monotonic()
            os.write(block_write, b"g")
            after_release()
            for fd in (info_read, block_write):
                os.close(fd)
                owned.remove(fd)
            owned.remove(diag_read)
            return LaunchedSandbox(Child(process), cgroup, diag_read, started, uid, self.uids)
        except BaseException as exc:
            if process is not None:
                _kill_group(process.pid)
                process.kill()
                process.wait()
            problems = cgroup.remove() if cgroup is not None else []
            if uid is not None and self.uids is not None:
                self.uids.release(uid, clean=not problems)
            for fd in owned:
                os.close(fd)
            if isinstance(exc, (OSError, SandboxStartError, UidsExhausted)):
                raise SandboxStartError(str(exc)) from exc
            raise

    def _create_cgroup(self, policy: SandboxPolicy, label: str) -> TaskCgroup | None:
        if self.cgroups is None:
            return None
        try:
            return self.cgroups.create(policy, channels.label_tag(label))
        except CgroupError as exc:
            raise SandboxStartError(f"cannot create the task cgroup: {exc}") from exc


@dataclass(frozen=True)
class _Spawn:
    """What differs between a cold run's sandbox and a warm session's."""

    policy: SandboxPolicy
    script: Path
    harness_args: list[str]  # the configuration, delivered through a memfd
    child_fds: tuple[int, ...]
    label: str  # names the task's cgroup on the host


def rlimits_spec(policy: SandboxPolicy) -> str:
    """The harness's rlimits argument; NPROC counts only this sandbox's user namespace."""
    return rlimits.harness_spec(rlimits.limits_for(policy, nproc=policy.pids))


def _memfd(name: str, data: bytes) -> int:
    fd = os.memfd_create(name, os.MFD_CLOEXEC)
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _without_option(argv: list[str], option: str) -> list[str]:
    index = argv.index(option)
    return argv[:index] + argv[index + 2 :]


def _read_child_pid(info_fd: int, process: subprocess.Popen[bytes], diag_fd: int) -> int:
    """bubblewrap's --info-fd JSON; its absence means bubblewrap failed to set up."""
    deadline = time.monotonic() + START_TIMEOUT
    data = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([info_fd], [], [], 0.05)
        if ready:
            chunk = os.read(info_fd, 4096)
            if not chunk:
                break
            data += chunk
            try:
                info = json.loads(data)
            except ValueError:
                continue
            pid = info.get("child-pid") if isinstance(info, dict) else None
            if isinstance(pid, int):
                return pid
        elif process.poll() is not None:
            break
    raise SandboxStartError(f"bubblewrap did not start: {_read_available(diag_fd)}")


def _read_available(fd: int) -> str:
    os.set_blocking(fd, False)
    try:
        return os.read(fd, 65536).decode(errors="replace").strip() or "no diagnostics"
    except BlockingIOError:
        return "no diagnostics"
