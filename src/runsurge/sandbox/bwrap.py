"""The bubblewrap command line: namespaces, the minimal file system, the launch chain.

Inside, the task sees only: the Python prefix (read-only, site-packages hidden; a
root agent binds a staged copy, ``stage.py``, so mountinfo names no host path) at
``/usr/local/runsurge-python``, the shared-library directories it links against
(read-only), the harness and the script as read-only files, a fresh ``/proc`` of
its own PID namespace, a minimal ``/dev``, and a size-bounded tmpfs ``/work``
(also ``/tmp``).  The root is remounted read-only after set-up.  Every namespace is
new (user, PID, network with only a down loopback, IPC, UTS, cgroup, mount) and no
further user namespace can be made inside (``--disable-userns``: with seccomp off, a
task could otherwise nest a user namespace with full capabilities in it), the
environment is cleared, capabilities are dropped, the uid is unprivileged, and the
harness is PID 1 so that its death ends every process of the task.

When the agent runs as root, bubblewrap itself runs as an unprivileged host uid of
its own (one per running sandbox, from a reserved range: ``uids.py``) so that an
escape from the namespaces lands on a uid nothing else uses, not root, and sandboxes
never share per-user kernel counters.  The interpreter may live where that uid
cannot reach (pyenv under a 0700 ``/root``): the launch chain first enters a private
mount namespace *as root*, bind-mounts the (staged) prefix read-only onto a reachable
mount point there, then drops to the sandbox uid (``setpriv``) and executes bubblewrap.
Nothing is mounted in the host's own namespace.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass

from runsurge.sandbox.policy import SandboxPolicy
from runsurge.sandbox.runtime import PythonRuntime

PREFIX_INSIDE = "/usr/local/runsurge-python"
HARNESS_INSIDE = "/runsurge/harness.py"
HARNESS_PYC_INSIDE = "/runsurge/harness.pyc"
SCRIPT_INSIDE = "/task/script.py"
WORK_INSIDE = "/work"
INSIDE_UID = 65534  # the uid inside every sandbox; the host uid is its own (uids.py)
SANDBOX_HOSTNAME = "runsurge"


@dataclass(frozen=True)
class SandboxFds:
    """Descriptors the agent passes to one sandbox (numbers valid in both)."""

    info: int  # bwrap writes {"child-pid": …} here
    block: int  # bwrap waits for a byte here before starting the harness
    seccomp: int  # BPF program
    harness: int  # harness source, copied to HARNESS_INSIDE
    script: int  # consumer script, copied to SCRIPT_INSIDE
    harness_args: tuple[str, ...]  # the harness's command line: ("config=FD",)
    harness_inside: str = HARNESS_INSIDE  # HARNESS_PYC_INSIDE when shipped as bytecode


@dataclass(frozen=True)
class Launcher:
    """How to start bwrap: directly, or through the root-only privilege-dropping chain."""

    bwrap: str
    prefix_source: str  # host path bound to PREFIX_INSIDE
    drops_privileges: bool = False  # the agent is root: bwrap runs as a sandbox uid
    mount_point: str | None = None  # reachable empty directory for the private bind

    def wrap(self, bwrap_argv: list[str], runtime: PythonRuntime, uid: int | None) -> list[str]:
        """The full argv: bwrap alone, or unshare → mount → setpriv (to `uid`) → bwrap.

        `uid` is this sandbox's own host uid (and gid), from `uids.UidPool`.
        """
        if not self.drops_privileges:
            return bwrap_argv
        if self.mount_point is None or uid is None:
            raise ValueError("dropping privileges needs a sandbox uid and a mount point")
        script = (
            'mount --bind -o ro "$0" "$1" && shift && '
            "exec setpriv --reuid=$UID_ --regid=$UID_ --clear-groups "
            '--inh-caps=-all --bounding-set=-all --no-new-privs "$@"'
        )
        script = script.replace("$UID_", str(int(uid)))
        return [
            _tool("unshare"), "--mount", "--propagation", "private", "--",
            "/bin/sh", "-c", script, str(runtime.prefix), self.mount_point, *bwrap_argv,
        ]  # fmt: skip


def _tool(name: str) -> str:
    path = shutil.which(name, path="/usr/bin:/bin:/usr/sbin:/sbin")
    if path is None:
        raise FileNotFoundError(f"{name} (util-linux) is not installed")
    return path


def bwrap_argv(
    launcher: Launcher, runtime: PythonRuntime, policy: SandboxPolicy, fds: SandboxFds
) -> list[str]:
    """The bubblewrap command that runs the harness under the policy."""
    uid = str(INSIDE_UID)
    argv = [
        launcher.bwrap,
        "--unshare-all", "--unshare-user", "--disable-userns",
        "--die-with-parent", "--new-session", "--as-pid-1",
        "--uid", uid, "--gid", uid, "--hostname", SANDBOX_HOSTNAME,
        "--cap-drop", "ALL",
        "--clearenv",
        "--setenv", "PATH", f"{PREFIX_INSIDE}/bin",
        "--setenv", "HOME", WORK_INSIDE,
        "--setenv", "TMPDIR", WORK_INSIDE,
        "--setenv", "LANG", "C.UTF-8",
    ]  # fmt: skip
    if runtime.libpython_in_prefix:
        argv += ["--setenv", "LD_LIBRARY_PATH", f"{PREFIX_INSIDE}/lib"]
    argv += file_system_args(launcher, runtime, policy, fds)
    argv += [
        "--info-fd", str(fds.info),
        "--block-fd", str(fds.block),
        "--seccomp", str(fds.seccomp),
        "--",
        f"{PREFIX_INSIDE}/{runtime.relative_executable}", "-I", "-S", fds.harness_inside,
        *fds.harness_args,
    ]  # fmt: skip
    return argv


def file_system_args(
    launcher: Launcher, runtime: PythonRuntime, policy: SandboxPolicy, fds: SandboxFds
) -> list[str]:
    """Mount operations for the minimal, mostly read-only view."""
    args = ["--ro-bind", launcher.prefix_source, PREFIX_INSIDE]
    read_only_after = ["/dev"]  # nothing may be created beside the device nodes
    if (runtime.prefix / runtime.site_packages()).is_dir():  # e.g. Debian's /usr has none
        mask = f"{PREFIX_INSIDE}/{runtime.site_packages()}"
        args += ["--size", "4096", "--tmpfs", mask]
        read_only_after.append(mask)  # an empty mask, not a writable tmpfs
    for directory in runtime.library_dirs:
        args += ["--ro-bind", str(directory), str(directory)]
    for link, target in runtime.root_symlinks:
        args += ["--symlink", target, link]
    args += ["--proc", "/proc", "--dev", "/dev"]
    size = str(policy.workdir_bytes)
    args += ["--size", size, "--perms", "0700", "--tmpfs", WORK_INSIDE]
    args += ["--size", size, "--tmpfs", "/dev/shm"]
    args += ["--symlink", WORK_INSIDE, "/tmp"]
    args += ["--ro-bind-data", str(fds.harness), fds.harness_inside]
    args += ["--ro-bind-data", str(fds.script), SCRIPT_INSIDE]
    for mount in read_only_after:
        args += ["--remount-ro", mount]
    args += ["--remount-ro", "/", "--chdir", WORK_INSIDE]
    return args


def bwrap_path() -> str | None:
    """The bubblewrap executable, if installed."""
    return shutil.which("bwrap", path="/usr/bin:/bin:/usr/local/bin")
