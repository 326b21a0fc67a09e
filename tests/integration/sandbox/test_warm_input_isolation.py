"""Nothing one warm input starts survives into the next (issue 15, defect 2).

A ``clone(CLONE_PARENT)`` child of the worker is the *zygote's* child, not the worker's:
it must still be killed when its input ends, and the zygote must not be readable
through ``/proc/PID/fd`` by what a later input runs.
"""

from __future__ import annotations

import json
from pathlib import Path

from runsurge.sandbox import Entrypoint, OutcomeKind, Sandbox
from tests.hostile import cases

SCRIPT = """\
import ctypes
import os
import time

CLONE_PARENT = 0x00008000
SIGCHLD = 17
SYS_CLONE = 56


def _spawn_sibling():
    libc = ctypes.CDLL(None, use_errno=True)
    pid = libc.syscall(SYS_CLONE, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0)
    if pid == 0:
        time.sleep(30)
        os._exit(0)
    return pid


def _look():
    others = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) not in (1, os.getpid()):
            try:
                with open(f"/proc/{name}/cmdline", "rb") as f:
                    others[name] = f.read().replace(b"\\0", b" ").decode(errors="replace")
            except OSError as exc:
                others[name] = type(exc).__name__
    fds = {}
    for name in others:
        try:
            fds[name] = sorted(os.listdir(f"/proc/{name}/fd"))
        except OSError as exc:
            fds[name] = type(exc).__name__
    return {"others": others, "fds": fds, "ppid": os.getppid()}


def process(input_data):
    if input_data == "spawn":
        return {"sibling": _spawn_sibling(), "ppid": os.getppid()}
    return _look()
"""


def test_clone_parent_sibling_is_killed_when_its_input_ends(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    script = tmp_path / "sibling.py"
    script.write_text(SCRIPT)
    spawn, look = tmp_path / "spawn.txt", tmp_path / "look.txt"
    spawn.write_text("spawn")
    look.write_text("look")
    policy = cases.HOSTILE_POLICY
    session = sandbox.open_session(script, Entrypoint.PROCESS, policy, label="sibling")
    try:
        first = session.run(spawn, policy, label="sibling")
        assert first.kind is OutcomeKind.OK, first
        spawned = json.loads(first.result_json or "{}")
        assert spawned["sibling"] > 0, spawned  # the clone itself worked
        second = session.run(look, policy, label="sibling")
        assert second.kind is OutcomeKind.OK, second
        seen = json.loads(second.result_json or "{}")
    finally:
        session.close()
    zygote = str(seen["ppid"])
    # Only the reporter (1, excluded above), the zygote and this worker remain.
    assert set(seen["others"]) == {zygote}, seen
    assert str(spawned["sibling"]) not in seen["others"], seen


def test_zygote_descriptors_are_not_readable_by_a_worker(sandbox: Sandbox, tmp_path: Path) -> None:
    script = tmp_path / "sibling.py"
    script.write_text(SCRIPT)
    look = tmp_path / "look.txt"
    look.write_text("look")
    policy = cases.HOSTILE_POLICY
    session = sandbox.open_session(script, Entrypoint.PROCESS, policy, label="zygote-fds")
    try:
        outcome = session.run(look, policy, label="zygote-fds")
    finally:
        session.close()
    assert outcome.kind is OutcomeKind.OK, outcome
    seen = json.loads(outcome.result_json or "{}")
    assert seen["fds"][str(seen["ppid"])] == "PermissionError", seen


FD_SCRIPT = """\
import os


def process(input_data):
    return {"fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd"))}
"""


def test_a_warm_worker_holds_only_stdio_and_its_result_channel(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    script = tmp_path / "fds.py"
    script.write_text(FD_SCRIPT)
    data = tmp_path / "in.txt"
    data.write_text("x")
    policy = cases.HOSTILE_POLICY
    session = sandbox.open_session(script, Entrypoint.PROCESS, policy, label="fds")
    try:
        outcomes = [session.run(data, policy, label="fds") for _ in range(2)]
    finally:
        session.close()
    for outcome in outcomes:
        assert outcome.kind is OutcomeKind.OK, outcome
        fds = json.loads(outcome.result_json or "{}")["fds"]
        # stdin, stdout, stderr, the result pipe, and the fd listdir itself opened.
        assert len(fds) == 5 and fds[:3] == [0, 1, 2], fds
