"""Each wall holds with another switched off, and the test names the wall that held.

The hostile corpus normally ends most escape attempts with a seccomp kill, so the
namespaces behind it are never exercised (issue 15, defect 9). Here the corpus runs
again with seccomp off, and again with cgroups off; a case whose normal outcome is
the switched-off layer's own evidence gets the outcome the next wall produces, with
that wall's evidence (an errno only it returns, a counter only it keeps).
"""

from __future__ import annotations

import dataclasses
import errno
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runsurge.sandbox import OutcomeKind, RunRequest, Sandbox, rlimits
from runsurge.sandbox.detect import detect_isolation
from runsurge.sandbox.policy import MiB
from runsurge.sandbox.sandbox import SandboxConfig
from tests.hostile import cases
from tests.integration.sandbox.sandbox_helpers import unavailable

OK = OutcomeKind.OK


def _errno_is(expected: int) -> cases.ResultCheck:
    def check(result: dict[str, Any], ctx: cases.HostContext) -> None:
        assert (result["rc"], result["errno"]) == (-1, expected), result

    return check


# What stops each attack once seccomp, which normally kills it first, is off.
WITHOUT_SECCOMP: dict[str, dict[str, Any]] = {
    # The network namespace: only a loopback of its own; the host's listener (checked
    # by HostContext.assert_untouched) never sees a connection.
    "connect_host_port": {
        "expected": OutcomeKind.SCRIPT_ERROR,
        "error_type": "ConnectionRefusedError",
    },
    # bubblewrap --disable-userns: no nested user namespace (ENOSPC, the userns count).
    "ctypes_unshare": {"expected": OK, "error_type": None, "check_result": _errno_is(errno.ENOSPC)},
    # No capabilities in the sandbox's user namespace: mount is EPERM.
    "ctypes_mount": {"expected": OK, "error_type": None, "check_result": _errno_is(errno.EPERM)},
    # The reporter (PID 1) is non-dumpable: ptrace-attach is EPERM.
    "ctypes_ptrace": {"expected": OK, "error_type": None, "check_result": _errno_is(errno.EPERM)},
    # This kernel has no x32 ABI: ENOSYS (the kernel, not a RunSurge layer).
    "x32_syscall": {"expected": OK, "error_type": None, "check_result": _errno_is(errno.ENOSYS)},
    # No terminal in the sandbox (--new-session, stdin is /dev/null): ENOTTY.
    "ioctl_tiocsetd": {"expected": OK, "error_type": None, "check_result": _errno_is(errno.ENOTTY)},
}
# Seccomp is the only wall against these: they are not expected to be contained.
SECCOMP_ONLY = {
    "unlisted_syscalls": "refusing what Python never needs is the allow-list's whole job",
    "exec_dropped_binary": "the exec seal is a seccomp filter; no mount is noexec (bwrap 0.8)",
    "subprocess_and_system": "without the seal the interpreter can be exec'd (it reads nothing)",
}


@pytest.fixture(scope="module")
def host_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[cases.HostContext]:
    ctx = cases.HostContext.create(tmp_path_factory.mktemp("host"))
    yield ctx
    ctx.close()


@pytest.fixture(scope="module")
def sandbox_without_seccomp() -> Sandbox:
    report = detect_isolation()
    if not report.meets_minimum:
        unavailable(f"isolation minimum not met: {report.missing_minimum()}")
    return Sandbox(SandboxConfig(use_seccomp=False))


@pytest.fixture(scope="module")
def sandbox_without_cgroups() -> Sandbox:
    report = detect_isolation()
    if not report.meets_minimum:
        unavailable(f"isolation minimum not met: {report.missing_minimum()}")
    return Sandbox(SandboxConfig(use_cgroups=False))


def _run(sandbox: Sandbox, case: cases.HostileCase, ctx: cases.HostContext, tmp: Path) -> Any:
    input_path = tmp / "input.txt"
    input_path.write_text(case.build_input(ctx))
    return sandbox.run(
        RunRequest(case.script, input_path, case.policy, label=ctx.label_for(case.name))
    )


@pytest.mark.parametrize(
    "case", [c for c in cases.CASES if c.name not in SECCOMP_ONLY], ids=lambda c: c.name
)
def test_with_seccomp_off_the_other_walls_contain_the_attack(
    sandbox_without_seccomp: Sandbox,
    host_context: cases.HostContext,
    case: cases.HostileCase,
    tmp_path: Path,
) -> None:
    adjusted = dataclasses.replace(case, **WITHOUT_SECCOMP.get(case.name, {}))
    if case.name == "cpu_loop":  # the CPU limit, not a loaded host's wall clock
        adjusted = dataclasses.replace(
            adjusted, policy=dataclasses.replace(case.policy, wall_seconds=20.0)
        )
    adjusted.verify(host_context, _run(sandbox_without_seccomp, adjusted, host_context, tmp_path))


def test_every_case_seccomp_alone_stops_is_listed_with_its_reason() -> None:
    violations = {c.name for c in cases.CASES if c.expected is OutcomeKind.SANDBOX_VIOLATION}
    seccomp_kills = {c.name for c in cases.CASES if c.error_type == "SeccompViolation"}
    assert seccomp_kills <= set(WITHOUT_SECCOMP), seccomp_kills - set(WITHOUT_SECCOMP)
    assert violations - seccomp_kills == {"forge_frames"}  # the framing layer's, not seccomp's
    assert set(SECCOMP_ONLY) <= {c.name for c in cases.CASES}


def test_with_cgroups_off_rlimit_data_still_bounds_the_memory_bomb_per_process(
    sandbox_without_cgroups: Sandbox, host_context: cases.HostContext, tmp_path: Path
) -> None:
    # Time to allocate up to RLIMIT_DATA on a loaded host; the bomb's policy is 2 s.
    policy = dataclasses.replace(cases.HOSTILE_POLICY, wall_seconds=30.0, cpu_seconds=30.0)
    case = dataclasses.replace(
        next(c for c in cases.CASES if c.name == "memory_bomb"), policy=policy
    )
    outcome = _run(sandbox_without_cgroups, case, host_context, tmp_path)
    assert outcome.kind is OutcomeKind.OUT_OF_MEMORY, outcome
    # RLIMIT_DATA's evidence: the allocation failed in Python (MemoryError), measured
    # without a cgroup, at no more than the per-process data limit. That limit is
    # looser than the policy (headroom for thread stacks and arenas), which is why
    # a cgroup is part of the minimum isolation.
    assert outcome.error is not None and outcome.error.type == "MemoryError", outcome
    assert outcome.usage.memory_source != "cgroup", outcome.usage
    data_limit = next(
        limit.soft
        for limit in rlimits.limits_for(policy, nproc=policy.pids)
        if limit.name == "RLIMIT_DATA"
    )
    assert outcome.usage.peak_memory_bytes <= data_limit + 64 * MiB, outcome.usage


def test_with_cgroups_off_rlimits_still_stop_the_fork_bomb(
    sandbox_without_cgroups: Sandbox, host_context: cases.HostContext, tmp_path: Path
) -> None:
    case = next(c for c in cases.CASES if c.name == "fork_bomb")
    outcome = _run(sandbox_without_cgroups, case, host_context, tmp_path)
    case.verify(host_context, outcome)  # RLIMIT_NPROC (per user namespace) bounds it
