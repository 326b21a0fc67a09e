"""The seccomp allow-list against this architecture's and the running kernel's syscalls."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from runsurge.sandbox import seccomp

pyseccomp = pytest.importorskip("pyseccomp")

# Names libseccomp knows but this x86-64 kernel build may lack, or the other way round.
NOT_EVERYWHERE = {"futex_wake", "futex_wait", "futex_requeue", "fchmodat2", "epoll_pwait2"}


def _kernel_syscalls() -> set[str]:
    """Syscalls of the running kernel, from its symbol table (x86-64 entry points)."""
    try:
        text = Path("/proc/kallsyms").read_text()
    except OSError:
        pytest.skip("/proc/kallsyms is not readable here")
    names = set(re.findall(r" [Tt] __x64_sys_(\w+?)(?:\.cold)?$", text, re.MULTILINE))
    if not names:
        pytest.skip("the kernel's symbol table lists no x86-64 syscall entry points")
    return names


def _arch_syscalls() -> set[str]:
    """Every syscall name libseccomp resolves for this architecture."""
    found: set[str] = set()
    for number in range(1024):
        try:
            name = pyseccomp.resolve_syscall(pyseccomp.Arch.NATIVE, number)
        except ValueError:  # a hole in the numbering
            continue
        if name:
            found.add(name.decode() if isinstance(name, bytes) else name)
    return found


def test_every_listed_call_exists_on_this_architecture() -> None:
    arch = _arch_syscalls()
    listed = set(seccomp.ALLOWED_SYSCALLS) | set(seccomp.KILL_SYSCALLS)
    assert listed - arch <= NOT_EVERYWHERE, sorted(listed - arch - NOT_EVERYWHERE)


def test_nothing_is_both_allowed_and_killed() -> None:
    both = set(seccomp.ALLOWED_SYSCALLS) & set(seccomp.KILL_SYSCALLS)
    assert not both, both
    assert not set(seccomp.ALLOWED_SYSCALLS) & set(seccomp.SEALED_SYSCALLS) - {"execve"}


def test_the_running_kernel_has_no_allowed_call_we_do_not_know_and_kills_reach_it() -> None:
    kernel = _kernel_syscalls()
    allowed = set(seccomp.ALLOWED_SYSCALLS)
    # Every allowed call is a real entry point of this kernel (no typo allows nothing;
    # a few legacy names are aliases the kernel exposes under their modern name).
    aliases = {"fadvise64", "pread64", "pwrite64", "prlimit64", "newfstatat", "getdents64"}
    unknown = allowed - kernel - aliases - NOT_EVERYWHERE
    assert not unknown, sorted(unknown)
    # Everything the kernel offers is decided: allowed, killed, or the ENOSYS default.
    decided = allowed | set(seccomp.KILL_SYSCALLS)
    defaulted = kernel - decided
    assert "mq_open" in defaulted and "add_key" not in defaulted
    assert len(allowed) < len(kernel) / 2, (len(allowed), len(kernel))  # a real allow-list


def test_the_program_defaults_to_enosys() -> None:
    program = seccomp.bpf_program()
    # The default action is the last return of the BPF program: SECCOMP_RET_ERRNO|ENOSYS.
    returns = [
        int.from_bytes(program[i + 4 : i + 8], "little")
        for i in range(0, len(program), 8)
        if int.from_bytes(program[i : i + 2], "little") == 0x06  # BPF_RET|BPF_K
    ]
    assert 0x00050000 | 38 in returns  # SECCOMP_RET_ERRNO | ENOSYS
    assert "anything not allowed → ENOSYS" in seccomp.summary().errno_rules
