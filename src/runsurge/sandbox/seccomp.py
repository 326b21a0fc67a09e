"""The seccomp filter every sandboxed process runs under, as a BPF program for bwrap.

An **allow-list**: a system call not named here fails with ENOSYS (what an old kernel
answers, so feature probes fall back cleanly), and a kernel that grows new calls
grows no new surface inside the sandbox. The list was measured (``strace -f`` of the
harness tree, cold and warm, over a broad stdlib workload: files, threads, fork
pools, sockets and pipes, sqlite3, compression, mmap, signals, timers; see
docs/security.md) and then widened by reasoning to the neighbours of what was seen
(``readv`` beside ``read``, the ``*at`` forms, ``statx``, ``close_range``).

Some allowed calls are narrowed by argument: ``clone`` without any ``CLONE_NEW*`` flag,
``socket``/``socketpair`` for AF_UNIX only, ``ioctl`` for a handful of requests
(terminal queries, FIONBIO/FIONREAD/FIOCLEX) with TIOCSTI, TIOCSETD and TIOCLINUX
refused outright.

A call that can only be an attack **kills the whole process** (SECCOMP_RET_KILL_PROCESS
→ SIGSYS), which the agent reports as SANDBOX_VIOLATION: the named escape tools and
kernel attack surface below, kept explicit so that an attempt is reported rather
than merely refused. ``clone3`` is ENOSYS (glibc falls back to ``clone``, whose flags
can be inspected); ``personality`` and ``kcmp`` are EPERM. Foreign architectures
(i386 ``int 0x80``, x32) are killed.
"""

from __future__ import annotations

import errno
import functools
import os
import socket
from dataclasses import dataclass

KILL_SYSCALLS = (
    # debugging other processes / reading their memory
    "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd",
    # namespaces and mounts: the sandbox's walls
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "mount_setattr",
    "move_mount", "open_tree", "fsopen", "fsconfig", "fsmount", "fspick",
    # file handles bypass path-based confinement (the "shocker" escape)
    "open_by_handle_at", "name_to_handle_at",
    # kernel attack surface
    "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter",
    "io_uring_register", "keyctl", "add_key", "request_key", "kexec_load",
    "kexec_file_load", "init_module", "finit_module", "delete_module", "lookup_dcookie",
    "fanotify_init", "quotactl", "acct", "syslog",
    # host state
    "reboot", "swapon", "swapoff", "settimeofday", "clock_settime", "clock_adjtime",
    "adjtimex", "sethostname", "setdomainname", "iopl", "ioperm", "vhangup",
)  # fmt: skip

# Everything a Python computation in the sandbox may call (see the module docstring).
ALLOWED_SYSCALLS = (
    # files and descriptors
    "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev",
    "preadv2", "pwritev2", "open", "openat", "openat2", "close", "close_range", "creat",
    "lseek", "stat", "fstat", "lstat", "newfstatat", "statx", "statfs", "fstatfs",
    "access", "faccessat", "faccessat2", "getdents", "getdents64", "readlink",
    "readlinkat", "dup", "dup2", "dup3", "fcntl", "flock", "fsync", "fdatasync",
    "sync", "syncfs", "sync_file_range", "truncate", "ftruncate", "fallocate",
    "fadvise64", "readahead", "sendfile", "copy_file_range", "getcwd", "chdir", "fchdir",
    "rename", "renameat", "renameat2", "mkdir", "mkdirat", "rmdir", "link", "linkat",
    "unlink", "unlinkat", "symlink", "symlinkat", "chmod", "fchmod", "fchmodat",
    "fchmodat2", "chown", "fchown", "lchown", "fchownat", "umask", "utime", "utimes",
    "utimensat", "futimesat", "getxattr", "lgetxattr", "fgetxattr", "listxattr",
    "llistxattr", "flistxattr", "pipe", "pipe2", "memfd_create", "eventfd", "eventfd2",
    "ioctl",
    # waiting on descriptors
    "poll", "ppoll", "select", "pselect6", "epoll_create", "epoll_create1",
    "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2",
    # memory
    "brk", "mmap", "munmap", "mprotect", "mremap", "msync", "mincore", "madvise",
    "mlock", "mlock2", "munlock", "membarrier",
    # processes and threads (clone narrowed below; execve sealed once the harness runs)
    "clone", "fork", "vfork", "execve", "exit", "exit_group", "wait4", "waitid",
    "kill", "tkill", "tgkill", "getpid", "getppid", "gettid", "getpgid", "getpgrp",
    "setpgid", "getsid", "setsid", "set_tid_address", "set_robust_list",
    "get_robust_list", "rseq", "futex", "futex_waitv", "futex_wake", "futex_wait",
    "futex_requeue", "arch_prctl", "prctl", "seccomp", "sched_yield",
    "sched_getaffinity", "sched_setaffinity", "sched_getparam", "sched_getscheduler",
    "sched_get_priority_max", "sched_get_priority_min", "getpriority", "setpriority",
    "getcpu", "pidfd_open", "pidfd_send_signal", "restart_syscall",
    # signals and time
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending",
    "rt_sigtimedwait", "rt_sigsuspend", "rt_sigqueueinfo", "rt_tgsigqueueinfo",
    "sigaltstack", "pause", "nanosleep", "clock_nanosleep", "clock_gettime",
    "clock_getres", "gettimeofday", "time", "alarm", "getitimer", "setitimer",
    "timer_create", "timer_settime", "timer_gettime", "timer_getoverrun",
    "timer_delete", "timerfd_create", "timerfd_settime", "timerfd_gettime",
    "signalfd", "signalfd4",
    # identity and limits (read; setting a limit only lowers it without privileges)
    "getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid", "getgroups",
    "capget", "getrlimit", "setrlimit", "prlimit64", "getrusage", "times", "sysinfo",
    "uname", "getrandom",
    # AF_UNIX sockets (socket and socketpair narrowed below)
    "socket", "socketpair", "bind", "listen", "accept", "accept4", "connect",
    "shutdown", "getsockname", "getpeername", "setsockopt", "getsockopt", "sendto",
    "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg",
)  # fmt: skip

# Requests ioctl may make: terminal queries (isatty), non-blocking and close-on-exec.
ALLOWED_IOCTLS = (
    0x5401,  # TCGETS
    0x5413,  # TIOCGWINSZ
    0x541B,  # FIONREAD
    0x5421,  # FIONBIO
    0x5450,  # FIONCLEX
    0x5451,  # FIOCLEX
)
KILLED_IOCTLS = (
    0x5412,  # TIOCSTI: push bytes into a terminal's input queue
    0x5423,  # TIOCSETD: change a terminal's line discipline (kernel bugs)
    0x541C,  # TIOCLINUX: console tricks
)

NAMESPACE_CLONE_FLAGS = (
    0x00020000,  # CLONE_NEWNS
    0x02000000,  # CLONE_NEWCGROUP
    0x04000000,  # CLONE_NEWUTS
    0x08000000,  # CLONE_NEWIPC
    0x10000000,  # CLONE_NEWUSER
    0x20000000,  # CLONE_NEWPID
    0x40000000,  # CLONE_NEWNET
)


@dataclass(frozen=True)
class FilterSummary:
    """What the filter does, for the isolation report and the docs."""

    killed: tuple[str, ...]
    errno_rules: tuple[str, ...]


def summary() -> FilterSummary:
    """A description of the rules without building the filter."""
    return FilterSummary(
        killed=(
            *KILL_SYSCALLS,
            "clone with any CLONE_NEW* flag",
            "socket with a family other than AF_UNIX",
            "socketpair with a family other than AF_UNIX",
            "ioctl TIOCSTI, TIOCSETD, TIOCLINUX",
        ),
        errno_rules=(
            "anything not allowed → ENOSYS",
            "clone3 → ENOSYS",
            "personality → EPERM",
            "kcmp → EPERM",
        ),
    )


@functools.cache
def bpf_program() -> bytes:
    """The compiled filter (cached in this process; it does not depend on the policy)."""
    import pyseccomp as sc

    flt = sc.SyscallFilter(sc.ERRNO(errno.ENOSYS))
    flt.set_attr(sc.Attr.ACT_BADARCH, sc.KILL_PROCESS)
    narrowed = {"socket", "socketpair", "ioctl"}
    for name in known_on_this_arch(ALLOWED_SYSCALLS):
        if name not in narrowed:
            flt.add_rule(sc.ALLOW, name)
    for name in known_on_this_arch(KILL_SYSCALLS):
        flt.add_rule(sc.KILL_PROCESS, name)
    # A matching KILL outranks the unconditional ALLOW of clone (libseccomp applies the
    # most severe action among the rules that match).
    for flag in NAMESPACE_CLONE_FLAGS:
        flt.add_rule(sc.KILL_PROCESS, "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
    for call in ("socket", "socketpair"):
        flt.add_rule(sc.ALLOW, call, sc.Arg(0, sc.EQ, socket.AF_UNIX))
        flt.add_rule(sc.KILL_PROCESS, call, sc.Arg(0, sc.NE, socket.AF_UNIX))
    for request in ALLOWED_IOCTLS:
        flt.add_rule(sc.ALLOW, "ioctl", sc.Arg(1, sc.MASKED_EQ, 0xFFFFFFFF, request))
    for request in KILLED_IOCTLS:
        flt.add_rule(sc.KILL_PROCESS, "ioctl", sc.Arg(1, sc.MASKED_EQ, 0xFFFFFFFF, request))
    # clone3 is not allowed, so it gets the default ENOSYS (libseccomp refuses a rule
    # that repeats the default action).
    flt.add_rule(sc.ERRNO(errno.EPERM), "kcmp")
    flt.add_rule(sc.ERRNO(errno.EPERM), "personality")
    return _export(flt)


def known_on_this_arch(names: tuple[str, ...]) -> list[str]:
    """The names libseccomp can resolve here (a call may not exist on every arch)."""
    import pyseccomp as sc

    return [name for name in names if sc.resolve_syscall(sc.Arch.NATIVE, name) >= 0]


# Refused (EACCES, as a noexec mount would) once the harness runs: see seal_program.
SEALED_SYSCALLS = ("execve", "execveat")


@functools.cache
def seal_program() -> bytes:
    """The filter the harness stacks on itself at start: no execve/execveat from then on.

    bubblewrap execs the harness after loading `bpf_program`, so that one must allow
    execve; this one is loaded by the harness (harness.install_seal) and holds for it
    and every process it forks.
    """
    import pyseccomp as sc

    flt = sc.SyscallFilter(sc.ALLOW)
    flt.set_attr(sc.Attr.ACT_BADARCH, sc.KILL_PROCESS)
    for name in SEALED_SYSCALLS:
        flt.add_rule(sc.ERRNO(errno.EACCES), name)
    return _export(flt)


def _export(flt: object) -> bytes:
    with os.fdopen(os.memfd_create("runsurge-bpf", os.MFD_CLOEXEC), "w+b") as sink:
        flt.export_bpf(sink)  # type: ignore[attr-defined]
        sink.seek(0)
        program = sink.read()
    if not program or len(program) % 8:
        raise OSError("libseccomp exported an empty or malformed BPF program")
    return program


def seal_fd() -> int:
    """A readable memfd holding `seal_program`, for the harness's ``seal=FD``."""
    return _program_memfd("runsurge-seal", seal_program())


def program_fd() -> int:
    """A readable fd holding the BPF program (a memfd), for ``bwrap --seccomp FD``."""
    return _program_memfd("runsurge-seccomp", bpf_program())


def _program_memfd(name: str, program: bytes) -> int:
    fd = os.memfd_create(name, os.MFD_CLOEXEC)
    try:
        os.write(fd, program)
        os.lseek(fd, 0, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd
