"""How much a sandboxed task costs over a bare interpreter, layer by layer.

Runs a trivial task N times (default 30) per configuration and prints the median
wall time of each, the increment of each layer over the previous row, and the full
Sandbox against a bare ``pythonX.Y -I -S -c pass`` of the same interpreter.  A last
table puts the per-input time of a warm session (one full Sandbox, the script
imported once, each input run in a fresh fork) beside the bare interpreter and the
cold Sandbox.

    .venv/bin/python benchmarks/sandbox_overhead.py [--runs 30]

Needs bubblewrap and (for the cgroup rows) writable cgroups, as the agent does.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from runsurge.sandbox import Entrypoint, RunRequest, Sandbox, SandboxConfig, SandboxPolicy
from runsurge.sandbox.bwrap import PREFIX_INSIDE, SandboxFds, bwrap_argv
from runsurge.sandbox.outcome import OutcomeKind
from runsurge.sandbox.policy import MiB
from runsurge.sandbox.runtime import current_runtime

TRIVIAL_SCRIPT = "def process(data):\n    return {'length': len(data)}\n"
POLICY = SandboxPolicy(memory_bytes=256 * MiB, pids=64, cpu_seconds=10, wall_seconds=10)


def median_ms(action: Callable[[], None], runs: int) -> float:
    """Median wall time of `action` in milliseconds, after one warm-up run."""
    action()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def bare_python() -> Callable[[], None]:
    """The baseline: the same interpreter, started the way the sandbox starts it."""
    executable = str(current_runtime().executable)
    return lambda: _check(subprocess.run([executable, "-I", "-S", "-c", "pass"]).returncode)


def bwrap_alone() -> Callable[[], None]:
    """bubblewrap with the sandbox's namespaces and file system, running `-c pass`."""
    sandbox = Sandbox(SandboxConfig(use_cgroups=False, use_seccomp=False))
    launch = sandbox._launch  # the benchmark reuses the sandbox's own launch chain
    fds = SandboxFds(info=0, block=0, seccomp=0, harness=0, script=0, harness_args=())
    argv = bwrap_argv(launch.launcher, launch.runtime, POLICY, fds)
    argv = _strip_fd_options(argv)
    command = [f"{PREFIX_INSIDE}/{launch.runtime.relative_executable}", "-I", "-S", "-c", "pass"]
    argv = argv[: argv.index("--") + 1] + command
    uids = sandbox._uids  # a root agent's launch chain drops to a reserved uid
    full = launch.launcher.wrap(argv, launch.runtime, uids.acquire() if uids else None)
    return lambda: _check(subprocess.run(full, stdin=subprocess.DEVNULL).returncode)


def _strip_fd_options(argv: list[str]) -> list[str]:
    out: list[str] = []
    skip = 0
    for i, arg in enumerate(argv):
        if skip:
            skip -= 1
            continue
        if arg in ("--info-fd", "--block-fd", "--seccomp"):
            skip = 1
            continue
        if arg == "--ro-bind-data":
            skip = 2
            continue
        if arg == "--":
            return out + argv[i:]
        out.append(arg)
    return out


def sandbox_task(config: SandboxConfig, workdir: Path) -> Callable[[], None]:
    """A full run of the trivial task through a Sandbox with the given layers."""
    sandbox = Sandbox(config)
    script, data = workdir / "task.py", workdir / "input.txt"
    script.write_text(TRIVIAL_SCRIPT)
    data.write_text("hello")
    request = RunRequest(script, data, POLICY)

    def run() -> None:
        outcome = sandbox.run(request)
        if outcome.kind is not OutcomeKind.OK:
            raise RuntimeError(f"benchmark task failed: {outcome.kind} {outcome.error}")

    return run


def warm_session_input(workdir: Path) -> tuple[Callable[[], None], Callable[[], None]]:
    """One input of the trivial task through a warm full-Sandbox session; and its close."""
    script, data = workdir / "warm_task.py", workdir / "warm_input.txt"
    script.write_text(TRIVIAL_SCRIPT)
    data.write_text("hello")
    session = Sandbox().open_session(script, Entrypoint.PROCESS, POLICY, label="benchmark")

    def run() -> None:
        outcome = session.run(data, POLICY)
        if outcome.kind is not OutcomeKind.OK:
            raise RuntimeError(f"warm benchmark input failed: {outcome.kind} {outcome.error}")

    return run, session.close


def _check(returncode: int) -> None:
    if returncode != 0:
        raise RuntimeError(f"exit status {returncode}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="runsurge-bench-") as tmp:
        workdir = Path(tmp)
        rows: list[tuple[str, float]] = [
            ("bare python -I -S -c pass", median_ms(bare_python(), args.runs)),
            ("bwrap alone (-c pass)", median_ms(bwrap_alone(), args.runs)),
        ]
        layered = [
            ("+ harness (trivial task)", SandboxConfig(use_cgroups=False, use_seccomp=False)),
            ("+ cgroup", SandboxConfig(use_cgroups=True, use_seccomp=False)),
            ("+ seccomp = full Sandbox", SandboxConfig(use_cgroups=True, use_seccomp=True)),
        ]
        for name, config in layered:
            rows.append((name, median_ms(sandbox_task(config, workdir), args.runs)))
        warm_run, warm_close = warm_session_input(workdir)
        try:
            warm = median_ms(warm_run, args.runs)
        finally:
            warm_close()
    print(f"median of {args.runs} runs per row (ms); interpreter {sys.version.split()[0]}")
    print(f"{'configuration':<32}{'median':>9}{'layer adds':>12}")
    previous = None
    for name, value in rows:
        added = "" if previous is None else f"{value - previous:+.1f}"
        print(f"{name:<32}{value:>9.1f}{added:>12}")
        previous = value
    bare, full = rows[0][1], rows[-1][1]
    print()
    print(f"{'bare python':<20}{'full Sandbox':>14}{'ratio':>8}{'difference':>12}")
    print(f"{bare:<20.1f}{full:>14.1f}{full / bare:>7.1f}x{full - bare:>+10.1f} ms")
    print()
    print("per input (ms): warm session input vs bare interpreter vs cold full Sandbox")
    print(f"{'warm session':<16}{'bare python':>12}{'cold Sandbox':>14}{'cold / warm':>13}")
    print(f"{warm:<16.2f}{bare:>12.1f}{full:>14.1f}{full / warm:>12.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
