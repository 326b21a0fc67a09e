"""Which system calls the harness tree makes: the measurement behind seccomp's allow-list.

Runs each script given (default: scripts/syscall_workload.py and examples/*.py) in the
real sandbox, cold and twice warm, with the launch chain under ``strace -f``, and
prints the sorted names of every call made by the harness and the processes it
forked (everything first seen after the harness's execve). Needs root and strace.

    .venv/bin/python scripts/measure_syscalls.py [SCRIPT ...]

Run it with MODE=no-seccomp to see what a workload would call with no filter at all.
"""

from __future__ import annotations

import collections
import itertools
import json
import os
import re
import sys
import tempfile
from pathlib import Path

from runsurge.sandbox import Entrypoint, Sandbox, bwrap
from runsurge.sandbox.policy import MiB, SandboxPolicy
from runsurge.sandbox.runner import RunRequest
from runsurge.sandbox.runtime import PythonRuntime
from runsurge.sandbox.sandbox import SandboxConfig

ROOT = Path(__file__).resolve().parents[1]
HARNESS_EXEC = f'execve("{bwrap.PREFIX_INSIDE}/bin/'
LINE = re.compile(r"^(\d+)\s+(.*)")
CALL = re.compile(r"(?:<\.\.\. )?([a-z0-9_]+)[( ]")


def traced(traces: Path) -> None:
    """Prefix every launch with strace -f writing one file per sandbox into `traces`."""
    counter = itertools.count()
    original = bwrap.Launcher.wrap

    def wrap(self: bwrap.Launcher, argv: list[str], runtime: PythonRuntime, uid: int | None):  # type: ignore[no-untyped-def]
        out = str(traces / f"trace{next(counter)}")
        return ["strace", "-f", "-qq", "-o", out, "--", *original(self, argv, runtime, uid)]

    bwrap.Launcher.wrap = wrap  # type: ignore[method-assign]


def calls_in(trace: Path) -> collections.Counter[str]:
    """Calls of the harness tree in one strace file."""
    calls: collections.Counter[str] = collections.Counter()
    before: set[int] = set()
    started = False
    for line in trace.read_text(errors="replace").splitlines():
        match = LINE.match(line)
        if not match:
            continue
        pid, rest = int(match.group(1)), match.group(2)
        if not started:
            started = rest.startswith(HARNESS_EXEC)
            if started:
                before.discard(pid)  # the process that became the harness
            else:
                before.add(pid)
            continue
        call = CALL.match(rest)
        if pid not in before and call and not rest.startswith(("+++", "---")):
            calls[call.group(1)] += 1
    return calls


def main(argv: list[str]) -> None:
    scripts = [Path(p) for p in argv] or [
        ROOT / "scripts" / "syscall_workload.py",
        *sorted((ROOT / "examples").glob("*.py")),
    ]
    traces = Path(tempfile.mkdtemp(prefix="runsurge-syscalls-"))
    traced(traces)
    sandbox = Sandbox(SandboxConfig(use_seccomp=os.environ.get("MODE") != "no-seccomp"))
    policy = SandboxPolicy(memory_bytes=512 * MiB, wall_seconds=60, cpu_seconds=60)
    data = traces / "input.txt"
    data.write_text('{"a": 1} hello world\n')
    for script in scripts:
        outcomes = [sandbox.run(RunRequest(script, data, policy, label="measure"))]
        session = sandbox.open_session(script, Entrypoint.PROCESS, policy, label="measure")
        outcomes += [session.run(data, policy) for _ in range(2)]
        session.close()
        for outcome in outcomes:
            print(script.name, outcome.kind.value, outcome.error or "", file=sys.stderr)
    total: collections.Counter[str] = collections.Counter()
    for trace in traces.glob("trace*"):
        total += calls_in(trace)
    print(json.dumps(sorted(total)))
    print(f"{len(total)} distinct calls", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
