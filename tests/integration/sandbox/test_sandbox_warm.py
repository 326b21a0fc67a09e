"""Warm sessions: one import, many inputs, each with the Outcome a cold run gives."""

from __future__ import annotations

import json
import platform
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import psutil
import pytest

from runsurge.sandbox import (
    Entrypoint,
    Outcome,
    OutcomeKind,
    RunRequest,
    Sandbox,
    SandboxPolicy,
    SubprocessRunner,
    TaskRunner,
)
from runsurge.sandbox.policy import MiB
from runsurge.sandbox.runner import WarmSession
from tests.integration.sandbox.sandbox_helpers import TEST_POLICY

OpenSession = Callable[..., WarmSession]
WriteInput = Callable[[str | bytes], Path]

DISPATCH_SCRIPT = """\
import os, sys
def process(data):
    if data == 'raise':
        raise ValueError('bad input ' + data)
    if data == 'list':
        return [1, 2]
    if data == 'set':
        return {'s': {1}}
    if data == 'os_exit':
        os._exit(3)
    if data == 'sys_exit':
        sys.exit(2)
    if data == 'segfault':
        import ctypes
        ctypes.string_at(0)
    print('processing', data)
    return {'words': len(data.split()), 'echo': data}
"""


@pytest.fixture
def write_input(tmp_path: Path) -> WriteInput:
    counter = iter(range(10**6))

    def write(data: str | bytes) -> Path:
        path = tmp_path / f"input{next(counter)}.txt"
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        return path

    return write


@pytest.fixture
def open_session(tmp_path: Path) -> Iterator[OpenSession]:
    sessions: list[WarmSession] = []
    counter = iter(range(10**6))

    def open_(
        runner: TaskRunner,
        script: str,
        policy: SandboxPolicy = TEST_POLICY,
        entrypoint: Entrypoint = Entrypoint.PROCESS,
    ) -> WarmSession:
        path = tmp_path / f"warm{next(counter)}.py"
        path.write_text(script)
        session = runner.open_session(path, entrypoint, policy, label="warm-test")
        sessions.append(session)
        return session

    yield open_
    for session in sessions:
        session.close()


def cold(runner: TaskRunner, tmp_path: Path, script: str, input_path: Path) -> Outcome:
    path = tmp_path / "cold.py"
    path.write_text(script)
    return runner.run(RunRequest(path, input_path, TEST_POLICY))


def same_as_cold(warm: Outcome, cold_outcome: Outcome) -> None:
    assert warm.kind is cold_outcome.kind, (warm, cold_outcome)
    assert warm.result_json == cold_outcome.result_json
    assert warm.logs == cold_outcome.logs
    if cold_outcome.error is None:
        assert warm.error is None
    else:
        assert warm.error is not None
        assert (warm.error.type, warm.error.message) == (
            cold_outcome.error.type,
            cold_outcome.error.message,
        )


def test_many_inputs_give_the_results_of_cold_runs(
    runner: TaskRunner, open_session: OpenSession, write_input: WriteInput, tmp_path: Path
) -> None:
    session = open_session(runner, DISPATCH_SCRIPT)
    texts = [f"{'word ' * n}end" for n in range(12)] + ["", "é ü"]
    for text in texts:
        path = write_input(text)
        same_as_cold(session.run(path, TEST_POLICY), cold(runner, tmp_path, DISPATCH_SCRIPT, path))
    assert session.alive and session.runs == len(texts)


@pytest.mark.parametrize(
    ("data", "error_type"),
    [
        ("raise", "ValueError"),
        ("list", "InvalidResult"),
        ("set", "InvalidResult"),
        ("os_exit", "ExitedWithoutResult"),
        ("sys_exit", "SystemExit"),
        ("segfault", "KilledBySignal"),
        (b"\xff\xfe", "InputDecodeError"),
    ],
)
def test_failing_input_matches_cold_and_the_next_input_works(
    runner: TaskRunner,
    open_session: OpenSession,
    write_input: WriteInput,
    tmp_path: Path,
    data: str | bytes,
    error_type: str,
) -> None:
    session = open_session(runner, DISPATCH_SCRIPT)
    path = write_input(data)
    warm = session.run(path, TEST_POLICY)
    assert warm.error is not None and warm.error.type == error_type, warm
    same_as_cold(warm, cold(runner, tmp_path, DISPATCH_SCRIPT, path))
    after = session.run(write_input("still here"), TEST_POLICY)
    assert after.kind is OutcomeKind.OK, after
    assert json.loads(after.result_json or b"")["words"] == 2
    assert session.alive


def test_each_input_runs_in_a_fresh_fork_of_the_imported_script(
    runner: TaskRunner, open_session: OpenSession, write_input: WriteInput
) -> None:
    script = (
        "import os\nLOADED = os.getpid()\ncalls = 0\n"
        "def process(data):\n    global calls\n    calls += 1\n"
        "    return {'loaded': LOADED, 'pid': os.getpid(), 'calls': calls}\n"
    )
    session = open_session(runner, script)
    results = [
        json.loads(session.run(write_input("x"), TEST_POLICY).result_json or b"") for _ in "abc"
    ]
    assert len({r["loaded"] for r in results}) == 1  # imported once
    assert len({r["pid"] for r in results}) == 3  # one process per input
    assert [r["calls"] for r in results] == [1, 1, 1]  # the import-time state, every time


def test_output_cap_and_log_cap_apply_per_input(
    runner: TaskRunner, open_session: OpenSession, write_input: WriteInput
) -> None:
    script = (
        "def process(data):\n    n = int(data)\n    print('z' * n)\n    return {'x': 'y' * n}\n"
    )
    session = open_session(runner, script)
    tight = replace(TEST_POLICY, max_output_bytes=1000, max_log_bytes=100)
    big = session.run(write_input("5000"), tight)
    assert big.kind is OutcomeKind.OUTPUT_TOO_LARGE and big.logs_truncated
    small = session.run(write_input("10"), tight)
    assert small.kind is OutcomeKind.OK and not small.logs_truncated
    assert small.logs == b"z" * 10 + b"\n"


def test_wall_timeout_ends_the_session(
    runner: TaskRunner, open_session: OpenSession, write_input: WriteInput
) -> None:
    script = "import time\ndef process(data):\n    time.sleep(float(data))\n    return {}\n"
    session = open_session(runner, script)
    assert session.run(write_input("0"), TEST_POLICY).kind is OutcomeKind.OK
    started = time.monotonic()
    outcome = session.run(write_input("60"), replace(TEST_POLICY, wall_seconds=0.5))
    assert outcome.kind is OutcomeKind.TIMEOUT
    assert time.monotonic() - started < 3.0
    assert 0.45 <= outcome.usage.wall_seconds < 1.5
    assert not session.alive
    after = session.run(write_input("0"), TEST_POLICY)
    assert after.kind is OutcomeKind.INFRASTRUCTURE
    assert after.error is not None and after.error.type == "SessionClosed"


def test_cancel_ends_the_session_promptly(
    runner: TaskRunner, open_session: OpenSession, write_input: WriteInput
) -> None:
    session = open_session(runner, "import time\ndef process(s):\n    time.sleep(60)\n")
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    started = time.monotonic()
    outcome = session.run(write_input(""), TEST_POLICY, cancel)
    assert outcome.kind is OutcomeKind.CANCELLED
    assert time.monotonic() - started < 1.5
    assert not session.alive


def test_cpu_limit_is_per_input(
    runner: TaskRunner, open_session: OpenSession, write_input: WriteInput
) -> None:
    script = (
        "import time\ndef process(data):\n    end = time.process_time() + float(data)\n"
        "    while time.process_time() < end:\n        pass\n    return {}\n"
    )
    session = open_session(runner, script, replace(TEST_POLICY, wall_seconds=5.0))
    policy = replace(TEST_POLICY, cpu_seconds=0.5, wall_seconds=5.0)
    for _ in range(3):  # 3 x 0.3 s: more than the limit together, under it each
        assert session.run(write_input("0.3"), policy).kind is OutcomeKind.OK
    outcome = session.run(write_input("5"), policy)
    assert outcome.kind is OutcomeKind.CPU_LIMIT
    assert outcome.usage.cpu_seconds >= 0.5


@pytest.mark.parametrize(
    ("script", "error_type"),
    [
        ("def process(:\n", "SyntaxError"),
        ("x = 1\n", "MissingFunction"),
        ("def process(a, b):\n    return {}\n", "BadSignature"),
        ("raise RuntimeError('at import')\n", "RuntimeError"),
        ("import sys\nsys.exit(4)\n", "SystemExit"),
    ],
)
def test_script_error_is_the_first_outcome_and_ends_the_session(
    runner: TaskRunner,
    open_session: OpenSession,
    write_input: WriteInput,
    tmp_path: Path,
    script: str,
    error_type: str,
) -> None:
    session = open_session(runner, "print('importing')\n" + script)
    path = write_input("data")
    outcome = session.run(path, TEST_POLICY)
    assert outcome.error is not None and outcome.error.type == error_type, outcome
    same_as_cold(outcome, cold(runner, tmp_path, "print('importing')\n" + script, path))
    assert not session.alive and session.runs == 1


def test_aggregate_entrypoint(
    runner: TaskRunner, open_session: OpenSession, write_input: WriteInput
) -> None:
    script = "def aggregate(results):\n    return {'total': sum(r['n'] for r in results)}\n"
    session = open_session(runner, script, entrypoint=Entrypoint.AGGREGATE)
    for n in (1, 5):
        lines = "".join(json.dumps({"n": i}) + "\n" for i in range(n))
        outcome = session.run(write_input(lines), TEST_POLICY)
        assert json.loads(outcome.result_json or b"") == {"total": sum(range(n))}


def test_input_policy_may_not_exceed_the_session(
    runner: TaskRunner, open_session: OpenSession, write_input: WriteInput
) -> None:
    session = open_session(runner, DISPATCH_SCRIPT)
    with pytest.raises(ValueError, match="memory_bytes"):
        session.run(
            write_input("x"), replace(TEST_POLICY, memory_bytes=2 * TEST_POLICY.memory_bytes)
        )
    assert session.run(write_input("x"), replace(TEST_POLICY, wall_seconds=1.0)).ok


def test_close_is_idempotent_and_ends_every_run(
    runner: TaskRunner, open_session: OpenSession, write_input: WriteInput
) -> None:
    session = open_session(runner, DISPATCH_SCRIPT)
    assert session.run(write_input("x"), TEST_POLICY).ok
    session.close()
    session.close()
    assert not session.alive
    assert session.run(write_input("x"), TEST_POLICY).kind is OutcomeKind.INFRASTRUCTURE


def test_processes_an_input_left_running_are_killed_before_the_next(
    runner: TaskRunner, open_session: OpenSession, write_input: WriteInput
) -> None:
    script = (
        "import os, time\ndef process(data):\n"
        "    if data == 'spawn' and os.fork() == 0:\n        os.setsid()\n"
        "        if os.fork() == 0:\n            time.sleep(60)\n        os._exit(0)\n"
        "    time.sleep(0.1)\n"
        "    return {'pids': sorted(int(p) for p in os.listdir('/proc') if p.isdigit())}\n"
    )
    session = open_session(runner, script)
    first = session.run(write_input("spawn"), TEST_POLICY)
    assert first.ok, first
    second = json.loads(session.run(write_input("look"), TEST_POLICY).result_json or b"")
    if isinstance(runner, Sandbox):  # its own PID namespace: the reporter, zygote, worker
        assert len(second["pids"]) == 3, second


# ----------------------------------------------------------------- needs the cgroup


def test_out_of_memory_ends_only_that_input(
    sandbox: Sandbox, open_session: OpenSession, write_input: WriteInput
) -> None:
    script = (
        "def process(data):\n    if data == 'hog':\n        keep = []\n        while True:\n"
        "            keep.append(bytearray(b'x' * (1 << 20)))\n    return {'ok': True}\n"
    )
    session = open_session(sandbox, script)
    outcome = session.run(write_input("hog"), TEST_POLICY)
    assert outcome.kind is OutcomeKind.OUT_OF_MEMORY, outcome
    assert outcome.usage.peak_memory_bytes >= TEST_POLICY.memory_bytes - 4 * MiB
    assert session.alive
    after = session.run(write_input("small"), TEST_POLICY)
    assert after.kind is OutcomeKind.OK, after
    assert after.usage.peak_memory_bytes < TEST_POLICY.memory_bytes // 2


def test_usage_figures_are_per_input(
    sandbox: Sandbox, open_session: OpenSession, write_input: WriteInput
) -> None:
    script = (
        "import time\ndef process(data):\n    blob = bytearray(int(data) * 1024 * 1024)\n"
        "    for i in range(0, len(blob), 4096):\n        blob[i] = 1\n"
        "    end = time.process_time() + 0.2 * (int(data) > 0)\n"
        "    while time.process_time() < end:\n        pass\n    return {'n': len(blob)}\n"
    )
    policy = replace(TEST_POLICY, memory_bytes=128 * MiB)
    session = open_session(sandbox, script, policy)
    big = session.run(write_input("60"), policy)
    small = session.run(write_input("0"), policy)
    assert big.ok and small.ok, (big, small)
    assert big.usage.memory_source == small.usage.memory_source == "cgroup"
    assert big.usage.peak_memory_bytes >= 60 * MiB
    assert small.usage.peak_memory_bytes < 30 * MiB
    assert big.usage.cpu_seconds >= 0.2
    assert small.usage.cpu_seconds < 0.1
    assert small.usage.wall_seconds < big.usage.wall_seconds


def test_close_leaves_no_process_cgroup_or_work_dir(
    sandbox: Sandbox, open_session: OpenSession, write_input: WriteInput
) -> None:
    script = (
        "import os, time\ndef process(data):\n    open('/work/data', 'w').write('x' * 1000)\n"
        "    return {'pid': os.getpid()}\n"
    )
    session = open_session(sandbox, script)
    assert session.run(write_input("x"), TEST_POLICY).ok
    launched = session._host._launched  # type: ignore[attr-defined]
    cgroup = launched.cgroup
    dirs = list(cgroup._dirs.values()) if hasattr(cgroup, "_dirs") else [cgroup._dir]
    bwrap_pid = launched.child.pid
    assert all(d.exists() for d in dirs)
    session.close()
    assert session.leftovers == ()  # type: ignore[attr-defined]
    assert not any(d.exists() for d in dirs)
    assert not psutil.pid_exists(bwrap_pid) or (
        psutil.Process(bwrap_pid).status() == psutil.STATUS_ZOMBIE
    )


def test_subprocess_session_removes_its_work_dir(
    subprocess_runner: SubprocessRunner, open_session: OpenSession, write_input: WriteInput
) -> None:
    script = "import os\ndef process(data):\n    return {'cwd': os.getcwd(), 'pid': os.getpid()}\n"
    session = open_session(subprocess_runner, script)
    result = json.loads(session.run(write_input("x"), TEST_POLICY).result_json or b"")
    assert Path(result["cwd"]).is_dir()
    session.close()
    assert not Path(result["cwd"]).exists()
    assert session.leftovers == ()  # type: ignore[attr-defined]


def test_work_dir_is_emptied_between_inputs_but_keeps_import_time_files(
    runner: TaskRunner, open_session: OpenSession, write_input: WriteInput
) -> None:
    script = (
        "import os\nopen('from-import', 'w').write('kept')\n"
        "def process(data):\n    before = sorted(os.listdir('.'))\n"
        "    os.makedirs('sub/deeper')\n    open('sub/deeper/f', 'w').write(data)\n"
        "    open('out-' + data, 'w').write(data)\n    return {'before': before}\n"
    )
    session = open_session(runner, script)
    for data in ("a", "b", "c"):
        outcome = session.run(write_input(data), TEST_POLICY)
        assert json.loads(outcome.result_json or b"") == {"before": ["from-import"]}, outcome


BUSY_AT_IMPORT = """\
import threading


def _spin():
    while True:
        pass


threading.Thread(target=_spin, daemon=True).start()


def process(data):
    return {"ok": True}
"""


def test_an_idle_session_is_frozen_on_v2_and_its_idle_cpu_billed_on_v1(
    sandbox: Sandbox, open_session: OpenSession, write_input: WriteInput
) -> None:
    policy = replace(TEST_POLICY, cpu_seconds=30.0, wall_seconds=30.0)
    session = open_session(sandbox, BUSY_AT_IMPORT, policy)
    first = session.run(write_input("a"), policy)
    assert first.kind is OutcomeKind.OK, first
    time.sleep(1.5)  # idle: the import's thread would spin all along
    second = session.run(write_input("b"), policy)
    assert second.kind is OutcomeKind.OK, second
    # Everything since the first input ended is charged to the second.
    host = sandbox._cgroups  # type: ignore[attr-defined]
    if host is not None and host.version == "v2":
        # Frozen between them, the spinning thread used (almost) none of the idle 1.5 s.
        assert second.usage.cpu_seconds < 0.4, second.usage
    else:
        # v1 does not freeze (a frozen v1 task survives SIGKILL): the spin is billed.
        assert second.usage.cpu_seconds >= 0.3, second.usage


def test_cpu_a_session_uses_between_inputs_is_charged_to_the_next_input(
    subprocess_runner: SubprocessRunner, open_session: OpenSession, write_input: WriteInput
) -> None:
    # No cgroup, so no freezer: the spinning thread runs while the session is idle.
    policy = replace(TEST_POLICY, cpu_seconds=30.0, wall_seconds=30.0)
    session = open_session(subprocess_runner, BUSY_AT_IMPORT, policy)
    assert session.run(write_input("a"), policy).kind is OutcomeKind.OK
    time.sleep(1.5)
    second = session.run(write_input("b"), policy)
    assert second.kind is OutcomeKind.OK, second
    assert second.usage.cpu_seconds >= 0.3, second.usage  # the idle spin, billed


def test_a_brief_spike_counts_in_its_inputs_peak_and_not_in_the_next(
    sandbox: Sandbox, open_session: OpenSession, write_input: WriteInput
) -> None:
    # 80 MiB held for a few milliseconds: shorter than a usage sample, so only the
    # kernel's peak, restarted for each input, sees it (cgroup v1; v2 on Linux 6.12+).
    script = (
        "import time\ndef process(data):\n    if data == 'spike':\n"
        "        blob = bytearray(80 * 1024 * 1024)\n"  # zero-filled: every page touched
        "        del blob\n    time.sleep(0.1)\n    return {}\n"
    )
    policy = replace(TEST_POLICY, memory_bytes=256 * MiB)
    session = open_session(sandbox, script, policy)
    if _v2_without_peak_reset():
        pytest.skip("this host's cgroup keeps only a lifetime peak (cgroup v2 before 6.12)")
    spike = session.run(write_input("spike"), policy)
    quiet = session.run(write_input("quiet"), policy)
    assert spike.ok and quiet.ok, (spike, quiet)
    assert spike.usage.peak_memory_bytes >= 80 * MiB
    assert quiet.usage.peak_memory_bytes < 40 * MiB


def _v2_without_peak_reset() -> bool:
    """A unified (v2) hierarchy on a kernel older than 6.12, whose memory.peak never resets."""
    if not Path("/sys/fs/cgroup/cgroup.controllers").exists():
        return False
    major, minor = (int(part) for part in platform.release().split(".")[:2])
    return (major, minor) < (6, 12)
