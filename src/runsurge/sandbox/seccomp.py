"""The seccomp filter every sandboxed process runs under, as a BPF program for bwrap.

Default allow, with a deny list of the calls a Python computation never needs and
an attacker wants: kernel attack surface (bpf, io_uring, userfaultfd, perf, keys,
modules), escape tools (namespaces, mounts, ptrace, handle-based opens, pidfd_getfd)
and the network (any socket family but AF_UNIX).

Actions: a call that can only be an attack **kills the whole process**
(SECCOMP_RET_KILL_PROCESS → SIGSYS), which the agent reports as SANDBOX_VIOLATION.
A few calls that benign code probes are refused with an errno instead, so that
feature detection keeps working: ``clone3`` (ENOSYS, so glibc falls back to
``clone``, whose flags *can* be inspected), ``personality`` (EPERM: it could turn
off ASLR for exec'd programs; the interpreter never calls it) and ``kcmp``
(EPERM).  Foreign architectures (i386 ``int 0x80``, x32) are killed.
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

NAMESPACE_CLONE_FLAGS = (
    0x00020000,  # CLONE_NEWNS
    0x02000000,  # CLONE_NEWCGROUP
    0x04000000,  # CLONE_NEWUTS
    0x08000000,  # CLONE_NEWIPC
    0x10000000,  # CLONE_NEWUSER
    0x20000000,  # CLONE_NEWPID
    0x40000000,  # CLONE_NEWNET
)
TIOCSTI = 0x5412  # push bytes into a terminal's input queue


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
            "ioctl TIOCSTI",
        ),
        errno_rules=("clone3 → ENOSYS", "personality → EPERM", "kcmp → EPERM"),
    )


@functools.cache
def bpf_program() -> bytes:
    """The compiled filter (cached in this process; it does not depend on the policy)."""
    import pyseccomp as sc

    flt = sc.SyscallFilter(sc.ALLOW)
    flt.set_attr(sc.Attr.ACT_BADARCH, sc.KILL_PROCESS)
    for name in KILL_SYSCALLS:
        if sc.resolve_syscall(sc.Arch.NATIVE, name) < 0:
            continue  # not on this architecture / too new for this libseccomp
        flt.add_rule(sc.KILL_PROCESS, name)
    for flag in NAMESPACE_CLONE_FLAGS:
        flt.add_rule(sc.KILL_PROCESS, "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
    for call in ("socket", "socketpair"):
        flt.add_rule(sc.KILL_PROCESS, call, sc.Arg(0, sc.NE, socket.AF_UNIX))
    flt.add_rule(sc.KILL_PROCESS, "ioctl", sc.Arg(1, sc.MASKED_EQ, 0xFFFFFFFF, TIOCSTI))
    flt.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    flt.add_rule(sc.ERRNO(errno.EPERM), "kcmp")
    flt.add_rule(sc.ERRNO(errno.EPERM), "personality")
    return _export(flt)


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
