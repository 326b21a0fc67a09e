"""rlimits, the bubblewrap command line, the seccomp program, runtime discovery, usage."""

from __future__ import annotations

import dataclasses
import logging
import resource
from pathlib import Path

import pytest

from runsurge.errors import SandboxUnavailable
from runsurge.sandbox import bwrap, detect, rlimits, seccomp
from runsurge.sandbox.bwrap import Launcher, SandboxFds
from runsurge.sandbox.detect import IsolationReport, LayerStatus, create_runner
from runsurge.sandbox.monitor import UsageMonitor
from runsurge.sandbox.policy import MiB, SandboxPolicy
from runsurge.sandbox.runtime import PythonRuntime, parse_ldd
from runsurge.sandbox.subprocess_runner import SubprocessRunner

POLICY = SandboxPolicy(memory_bytes=64 * MiB, pids=16, cpu_seconds=1.5, workdir_bytes=8 * MiB)
RUNTIME = PythonRuntime(
    prefix=Path("/opt/py"),
    executable=Path("/opt/py/bin/python3.11"),
    library_dirs=(Path("/usr/lib/x86_64-linux-gnu"),),
    root_symlinks=(("/lib", "usr/lib"),),
    libpython_in_prefix=True,
    version="3.11",
)
FDS = SandboxFds(info=10, block=11, seccomp=12, harness=13, script=14, harness_args=("a=1",))


def test_rlimits_follow_the_policy() -> None:
    limits = {limit.name: limit for limit in rlimits.limits_for(POLICY, nproc=16)}
    assert (limits["RLIMIT_CPU"].soft, limits["RLIMIT_CPU"].hard) == (2, 3)
    assert limits["RLIMIT_FSIZE"].hard == 8 * MiB
    assert limits["RLIMIT_CORE"].hard == 0 and limits["RLIMIT_NPROC"].hard == 16
    assert limits["RLIMIT_DATA"].hard > POLICY.memory_bytes
    assert "RLIMIT_NPROC" not in {limit.name for limit in rlimits.limits_for(POLICY, None)}
    assert all(limit.resource == getattr(resource, limit.name) for limit in limits.values())


def test_harness_spec_round_trips() -> None:
    spec = rlimits.harness_spec(rlimits.limits_for(POLICY, nproc=None))
    assert "RLIMIT_CPU:2:3" in spec.split(",")


def test_bwrap_isolates_everything() -> None:
    launcher = Launcher(bwrap="/usr/bin/bwrap", prefix_source="/opt/py")
    argv = bwrap.bwrap_argv(launcher, RUNTIME, POLICY, FDS)
    flags = ("--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent")
    for flag in (*flags, "--new-session", "--as-pid-1", "--clearenv"):
        assert flag in argv
    assert "--share-net" not in argv
    assert argv[argv.index("--cap-drop") + 1] == "ALL"
    assert argv[argv.index("--uid") + 1] == "65534"
    assert argv[argv.index("--seccomp") + 1] == "12"
    work = next(i for i, arg in enumerate(argv) if argv[i - 1 : i + 1] == ["--tmpfs", "/work"])
    assert argv[work - 5 : work - 3] == ["--size", str(8 * MiB)]
    read_only = [argv[i + 1] for i, arg in enumerate(argv) if arg == "--remount-ro"]
    assert read_only == ["/dev", "/"]  # after every mount that may be written during set-up
    assert argv.index("--remount-ro") > argv.index("/dev/shm")
    assert argv[argv.index(bwrap.PREFIX_INSIDE) - 2 : argv.index(bwrap.PREFIX_INSIDE) + 1] == [
        "--ro-bind",
        "/opt/py",
        bwrap.PREFIX_INSIDE,
    ]
    binds = [argv[i + 1] for i, arg in enumerate(argv) if arg in ("--bind", "--ro-bind")]
    assert binds == ["/opt/py", "/usr/lib/x86_64-linux-gnu"]  # nothing else of the host
    assert argv[-2:] == [bwrap.HARNESS_INSIDE, "a=1"]


def test_site_packages_is_hidden_when_the_prefix_has_one(tmp_path: Path) -> None:
    hidden = f"{bwrap.PREFIX_INSIDE}/lib/python3.11/site-packages"
    runtime = dataclasses.replace(RUNTIME, prefix=tmp_path, executable=tmp_path / "bin/python3.11")
    launcher = Launcher(bwrap="/usr/bin/bwrap", prefix_source=str(tmp_path))
    assert hidden not in bwrap.bwrap_argv(launcher, runtime, POLICY, FDS)  # e.g. Debian's /usr
    (tmp_path / "lib/python3.11/site-packages").mkdir(parents=True)
    argv = bwrap.bwrap_argv(launcher, runtime, POLICY, FDS)
    assert argv[argv.index(hidden) - 1] == "--tmpfs"
    read_only = [argv[i + 1] for i, arg in enumerate(argv) if arg == "--remount-ro"]
    assert hidden in read_only  # an empty mask, never a writable tmpfs


def test_root_launch_drops_privileges_in_a_private_mount_namespace() -> None:
    launcher = Launcher("/usr/bin/bwrap", "/run/x", drops_privileges=True, mount_point="/run/x")
    argv = launcher.wrap(["/usr/bin/bwrap", "--unshare-all"], RUNTIME, uid=2_100_000_007)
    assert argv[1:5] == ["--mount", "--propagation", "private", "--"]
    script = argv[argv.index("-c") + 1]
    assert "mount --bind -o ro" in script
    assert "--reuid=2100000007" in script and "--regid=2100000007" in script
    assert "--bounding-set=-all" in script and "--no-new-privs" in script
    assert argv[-2:] == ["/usr/bin/bwrap", "--unshare-all"]


def test_seccomp_program_is_valid_bpf() -> None:
    program = seccomp.bpf_program()
    assert program and len(program) % 8 == 0
    summary = seccomp.summary()
    for name in ("ptrace", "unshare", "bpf", "io_uring_setup", "userfaultfd", "kexec_load"):
        assert name in summary.killed


def test_parse_ldd() -> None:
    output = (
        "\tlinux-vdso.so.1 (0x00007ffd)\n"
        "\tlibpython3.11.so.1.0 => /opt/py/lib/libpython3.11.so.1.0 (0x00007f)\n"
        "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n"
        "\t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n"
    )
    assert parse_ldd(output) == [
        Path("/opt/py/lib/libpython3.11.so.1.0"),
        Path("/lib/x86_64-linux-gnu/libc.so.6"),
        Path("/lib64/ld-linux-x86-64.so.2"),
    ]


class StepSource:
    """Memory that is 0 for the first second and 100 for the next three."""

    name = "fake"

    def __init__(self) -> None:
        self.now = 0.0

    def memory_bytes(self) -> int:
        return 0 if self.now < 1.0 else 100

    def peak_memory_bytes(self) -> int | None:
        return 150

    def cpu_seconds(self) -> float | None:
        return None


def test_average_is_time_weighted_and_peak_uses_the_kernel_record() -> None:
    source = StepSource()
    monitor = UsageMonitor(source, interval=0.5)
    monitor.start(0.0)
    for step in range(1, 9):
        source.now = step * 0.5
        monitor.sample(source.now)
    usage = monitor.finish(4.0, cpu_fallback=0.7)
    assert usage.average_memory_bytes == 75  # 0 for 1 s, 100 for 3 s
    assert usage.peak_memory_bytes == 150 and usage.samples == 9
    assert usage.cpu_seconds == 0.7 and usage.memory_source == "fake"


def _report(bwrap_ok: bool, cgroups_ok: bool) -> IsolationReport:
    layers = (
        LayerStatus("bubblewrap", bwrap_ok, "ok" if bwrap_ok else "bwrap is not installed"),
        LayerStatus("cgroups", cgroups_ok, "ok" if cgroups_ok else "no pids hierarchy"),
        LayerStatus("seccomp", True, "ok"),
    )
    return IsolationReport(layers, "none (insecure dev)", bwrap_ok and cgroups_ok)


def test_create_runner_refuses_below_the_minimum(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(detect, "detect_isolation", lambda config=None: _report(False, True))
    with pytest.raises(SandboxUnavailable, match="bubblewrap: bwrap is not installed"):
        create_runner(insecure_dev=False)


def test_insecure_dev_falls_back_loudly(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(detect, "detect_isolation", lambda config=None: _report(True, False))
    with caplog.at_level(logging.WARNING):
        runner = create_runner(insecure_dev=True)
    assert isinstance(runner, SubprocessRunner)
    assert runner.isolation_level == "none (insecure dev)"
    assert "INSECURE" in caplog.text and "no pids hierarchy" in caplog.text


def test_a_root_launch_without_a_sandbox_uid_is_refused() -> None:
    launcher = Launcher("/usr/bin/bwrap", "/run/x", drops_privileges=True, mount_point="/run/x")
    with pytest.raises(ValueError, match="sandbox uid"):
        launcher.wrap(["/usr/bin/bwrap"], RUNTIME, uid=None)
