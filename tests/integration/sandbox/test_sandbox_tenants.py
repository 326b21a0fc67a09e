"""Two tenants' sandboxes side by side on one contributor share nothing (issue 15, defect 1).

Every concurrently running sandbox gets its own host uid from a reserved range, so
the kernel's per-user counters (here: descriptors in flight over UNIX sockets) and
the ownership of each sandbox's user namespace are its own.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import psutil

from runsurge.sandbox import Entrypoint, Outcome, OutcomeKind, RunRequest, Sandbox, bwrap
from runsurge.sandbox.policy import SandboxPolicy
from tests.hostile.cases import in_labelled_cgroup

POLICY = SandboxPolicy(wall_seconds=20.0, cpu_seconds=20.0)

SLEEPER = """\
import time


def process(input_data):
    time.sleep(float(input_data or 0))
    return {"slept": input_data}
"""

PARK_DESCRIPTORS = """\
import os
import socket
import time


def process(input_data):
    # Descriptors sent over a UNIX socket and never received count against the
    # sending *user*'s in-flight quota (RLIMIT_NOFILE), whichever process sent them.
    keep, _peer = socket.socketpair()
    fd = os.open("/dev/null", os.O_RDONLY)
    parked = 0
    try:
        while parked < 2000:
            socket.send_fds(keep, [b"x"], [fd] * 16)
            parked += 16
    except OSError as exc:
        error = exc.errno
    time.sleep(float(input_data))
    return {"parked": parked, "errno": error}
"""


def _write(tmp: Path, name: str, text: str) -> Path:
    path = tmp / name
    path.write_text(text)
    return path


def _host_uids_of(label: str, deadline: float) -> set[int]:
    """Real uids, as the host sees them, of every harness process of the sandbox with `label`.

    The label names the task's cgroup (host only), never a command line.
    """
    while time.monotonic() < deadline:
        uids = set()
        for process in psutil.process_iter(["cmdline", "uids"]):
            cmdline = process.info["cmdline"] or []
            is_harness = bool(cmdline) and cmdline[0].startswith(bwrap.PREFIX_INSIDE)
            labelled = is_harness and in_labelled_cgroup(process.pid, label)
            if labelled and process.info["uids"] is not None:
                uids.add(process.info["uids"].real)
        if uids:
            return uids
        time.sleep(0.02)
    raise AssertionError(f"no process labelled {label} appeared")


def test_concurrent_sandboxes_run_as_distinct_reserved_host_uids(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    script = _write(tmp_path, "uid.py", SLEEPER)
    data = _write(tmp_path, "in.txt", "1.5")
    labels = [f"tenant-{n}-{time.monotonic_ns()}" for n in range(3)]
    outcomes: list[Outcome] = []
    threads = [
        threading.Thread(
            target=lambda label=label: outcomes.append(
                sandbox.run(RunRequest(script, data, POLICY, label=label))
            )
        )
        for label in labels
    ]
    for thread in threads:
        thread.start()
    try:
        per_sandbox = [_host_uids_of(label, time.monotonic() + 10) for label in labels]
    finally:
        for thread in threads:
            thread.join()
    assert all(o.kind is OutcomeKind.OK for o in outcomes), outcomes
    assert all(len(uids) == 1 for uids in per_sandbox), per_sandbox  # one uid per sandbox
    uids = [next(iter(found)) for found in per_sandbox]
    assert len(set(uids)) == 3, uids
    reserved = sandbox.uid_range
    assert reserved is not None and all(uid in reserved for uid in uids), (uids, reserved)
    assert 65534 not in uids


def test_descriptors_parked_by_one_tenant_do_not_break_anothers_warm_session(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    victim = _write(tmp_path, "victim.py", SLEEPER)
    policy = SandboxPolicy(wall_seconds=5.0)  # a blocked hand-off shows as a TIMEOUT
    session = sandbox.open_session(victim, Entrypoint.PROCESS, policy, label="victim")
    attacker_result: list[object] = []
    try:
        first = session.run(_write(tmp_path, "zero.txt", "0"), policy, label="victim")
        assert first.kind is OutcomeKind.OK, first
        attacker = threading.Thread(
            target=lambda: attacker_result.append(
                sandbox.run(
                    RunRequest(
                        _write(tmp_path, "park.py", PARK_DESCRIPTORS),
                        _write(tmp_path, "sleep.txt", "4"),
                        POLICY,
                    )
                )
            )
        )
        attacker.start()
        time.sleep(1.5)  # the attacker has parked its descriptors by now
        second = session.run(_write(tmp_path, "zero2.txt", "0"), policy, label="victim")
        attacker.join()
    finally:
        session.close()
    parked = json.loads(attacker_result[0].result_json or b"{}")  # type: ignore[attr-defined]
    assert parked["parked"] >= 256, parked  # the attack did fill its own quota
    assert second.kind is OutcomeKind.OK, second


PARK_AT_IMPORT = """\
import os
import socket
import threading

# A thread started at import lives in the zygote and keeps its descriptors in flight,
# so the zygote's user (this sandbox's own uid) has no SCM_RIGHTS quota left for the
# reporter's hand-off of the next input.
_keep, _peer = socket.socketpair()
_fd = os.open("/dev/null", os.O_RDONLY)


def _park():
    try:
        while True:
            socket.send_fds(_keep, [b"x"], [_fd] * 16)
    except OSError:
        pass


threading.Thread(target=_park).start()


def process(input_data):
    return {"ok": True}
"""


def test_a_failed_descriptor_hand_off_is_an_infrastructure_error_not_a_hang(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    script = _write(tmp_path, "park_at_import.py", PARK_AT_IMPORT)
    data = _write(tmp_path, "in.txt", "x")
    policy = SandboxPolicy(wall_seconds=10.0)
    session = sandbox.open_session(script, Entrypoint.PROCESS, policy, label="hand-off")
    try:
        session.run(data, policy, label="hand-off")  # imports: the thread parks
        started = time.monotonic()
        second = session.run(data, policy, label="hand-off")
        elapsed = time.monotonic() - started
    finally:
        session.close()
    assert second.kind is OutcomeKind.INFRASTRUCTURE, second
    assert second.error is not None and "hand" in second.error.message, second.error
    assert elapsed < policy.wall_seconds / 2, elapsed  # reported, not waited out
    assert not session.alive
