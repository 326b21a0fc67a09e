"""Real layers on this host: detection, the v1/v2 cgroup, clean-up, concurrency."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest

from runsurge.sandbox import (
    OutcomeKind,
    Sandbox,
    SubprocessRunner,
    create_runner,
    detect_isolation,
)
from runsurge.sandbox.cgroups import CgroupError, find_cgroup_host
from runsurge.sandbox.policy import MiB, SandboxPolicy
from runsurge.sandbox.runtime import current_runtime
from runsurge.sandbox.stage import stage_runtime
from tests.integration.sandbox.sandbox_helpers import TEST_POLICY, MakeRequest, unavailable


@pytest.fixture(scope="module")
def cgroup_host():  # type: ignore[no-untyped-def]
    if os.geteuid() != 0:
        unavailable("cgroup tests need root (or a delegated cgroup)")
    try:
        return find_cgroup_host()
    except CgroupError as exc:
        unavailable(f"no usable cgroups: {exc}")


def test_detection_is_fast_and_reports_every_layer() -> None:
    if os.geteuid() == 0:  # a host's first Sandbox stages the interpreter once (~0.7 s)
        stage_runtime(current_runtime())
    started = time.monotonic()
    report = detect_isolation()
    assert time.monotonic() - started < 1.0
    assert [layer.name for layer in report.layers] == ["bubblewrap", "cgroups", "seccomp"]
    if not report.meets_minimum:
        unavailable(f"isolation minimum not met: {report.missing_minimum()}")
    assert report.isolation_level.startswith("bubblewrap+cgroup-v")


def test_create_runner_returns_the_sandbox_when_layers_exist(sandbox: Sandbox) -> None:
    runner = create_runner(insecure_dev=False)
    assert isinstance(runner, Sandbox)
    assert runner.isolation_level == sandbox.isolation_level
    assert runner.isolation_level == "bubblewrap+cgroup-v1+rlimits+seccomp" or "v2" in (
        runner.isolation_level
    )


def test_task_cgroup_enforces_memory_and_counts_oom_kills(cgroup_host) -> None:  # type: ignore[no-untyped-def]
    task = cgroup_host.create(SandboxPolicy(memory_bytes=32 * MiB, pids=8))
    try:
        hog = "b = []\nwhile True:\n    b.append(bytearray(1 << 20))\n"
        proc = subprocess.Popen(["sleep", "0.05"])
        task.add(proc.pid)
        assert proc.pid in task.pids()
        proc.wait()
        child = subprocess.Popen(
            ["sh", "-c", 'echo $$ > "$0"; exec python3 -I -S -c "$1"',
             f"{task._dirs['memory']}/cgroup.procs", hog],  # type: ignore[attr-defined]
        )  # fmt: skip
        assert child.wait(20) == -9
        assert task.oom_kills() >= 1
        assert (task.peak_memory_bytes() or 0) >= 30 * MiB
    finally:
        assert task.remove() == []


def test_task_cgroup_caps_cpu_at_the_admitted_cores(cgroup_host) -> None:  # type: ignore[no-untyped-def]
    # A tenth of a core: throttled even when a loaded host gives it only part of one.
    task = cgroup_host.create(SandboxPolicy(cpu_cores=0.1))
    spin = (
        "import sys, time\nsys.stdin.readline()\nend = time.monotonic() + 0.6\n"
        "while time.monotonic() < end:\n    pass\n"
    )
    try:
        if task.throttled_periods() is None:
            unavailable("no cpu controller for task cgroups on this host")
        spinner = subprocess.Popen(["python3.11", "-I", "-S", "-c", spin], stdin=subprocess.PIPE)
        task.add(spinner.pid)
        assert spinner.stdin is not None
        started = time.monotonic()
        spinner.stdin.write(b"go\n")
        spinner.stdin.close()
        assert spinner.wait(20) == 0
        wall = time.monotonic() - started
        # The kernel's own evidence: periods in which the quota ran out.
        assert (task.throttled_periods() or 0) >= 1
        cpu = task.cpu_seconds()
        assert cpu is None or cpu <= 0.1 * wall + 0.05, (cpu, wall)
    finally:
        assert task.remove() == []


def test_task_cgroup_kill_all_reaches_forked_children(cgroup_host) -> None:  # type: ignore[no-untyped-def]
    task = cgroup_host.create(SandboxPolicy(pids=16))
    procs_file = next(iter(task._dirs.values())) / "cgroup.procs"  # type: ignore[attr-defined]
    shell = subprocess.Popen(
        ["sh", "-c", 'echo $$ > "$0"; sleep 60 & sleep 60 & setsid sleep 60 & wait', procs_file]
    )
    deadline = time.monotonic() + 5
    while len(task.pids()) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    pids = task.pids()
    assert len(pids) >= 4
    assert task.remove() == []
    shell.wait(5)
    assert not any(
        psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie" for pid in pids
    )


def test_runs_leave_no_cgroup_and_no_process(
    sandbox: Sandbox, make_request: MakeRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = []
    host = sandbox._cgroups
    assert host is not None
    real_create = host.create

    def create(policy: SandboxPolicy, tag: str = ""):  # type: ignore[no-untyped-def]
        task = real_create(policy, tag)
        created.append(task)
        return task

    monkeypatch.setattr(host, "create", create)
    script = (
        "import os, time\ndef process(s):\n    open('/work/data', 'w').write('x' * 1000)\n"
        "    if os.fork() == 0:\n        os.setsid()\n        time.sleep(60)\n"
        "    return {'pid': os.getpid()}\n"
    )
    outcome = sandbox.run(make_request(script))
    assert outcome.kind is OutcomeKind.OK and outcome.leftovers == ()
    (task,) = created
    directories = list(task._dirs.values()) if hasattr(task, "_dirs") else [task._dir]
    assert directories and not any(d.exists() for d in directories)


def test_each_run_starts_with_an_empty_workdir(sandbox: Sandbox, make_request: MakeRequest) -> None:
    script = (
        "import os\ndef process(s):\n    seen = os.listdir('/work')\n"
        "    open('/work/marker', 'w').write('1')\n    return {'seen': seen}\n"
    )
    for _ in range(2):
        outcome = sandbox.run(make_request(script))
        assert json.loads(outcome.result_json or b"") == {"seen": []}


def test_concurrent_runs_are_isolated_from_each_other(
    sandbox: Sandbox, make_request: MakeRequest
) -> None:
    script = (
        "import os, time\ndef process(s):\n    time.sleep(0.3)\n"
        "    return {'me': s, 'procs': sorted(p for p in os.listdir('/proc') if p.isdigit())}\n"
    )
    requests = [make_request(script, str(i)) for i in range(4)]
    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(sandbox.run, requests))
    for i, outcome in enumerate(outcomes):
        assert outcome.kind is OutcomeKind.OK, outcome.error
        result = json.loads(outcome.result_json or b"")
        assert result["me"] == str(i) and len(result["procs"]) <= 2


def test_cancel_from_another_thread_kills_a_forking_script(
    sandbox: Sandbox, make_request: MakeRequest
) -> None:
    script = (
        "import os, time\ndef process(s):\n    for _ in range(3):\n        os.fork()\n"
        "    time.sleep(60)\n"
    )
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    outcome = sandbox.run(make_request(script), cancel)
    assert outcome.kind is OutcomeKind.CANCELLED and outcome.leftovers == ()


def test_subprocess_runner_kills_its_process_group_and_removes_its_workdir(
    subprocess_runner: SubprocessRunner, make_request: MakeRequest
) -> None:
    script = (
        "import os, subprocess\ndef process(s):\n"
        "    child = subprocess.Popen(['sleep', '60'])\n"
        "    return {'cwd': os.getcwd(), 'child': child.pid}\n"
    )
    outcome = subprocess_runner.run(make_request(script))
    assert outcome.kind is OutcomeKind.OK, outcome.error
    result = json.loads(outcome.result_json or b"")
    assert not Path(result["cwd"]).exists()
    assert not psutil.pid_exists(result["child"]) or (
        psutil.Process(result["child"]).status() == psutil.STATUS_ZOMBIE
    )
    assert subprocess_runner.isolation_level == "none (insecure dev)"


def test_subprocess_runner_does_not_leak_the_agent_environment(
    subprocess_runner: SubprocessRunner, make_request: MakeRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNSURGE_TOKEN", "secret")
    script = "import os\ndef process(s):\n    return dict(os.environ)\n"
    outcome = subprocess_runner.run(make_request(script))
    assert "secret" not in (outcome.result_json or b"").decode()


def test_missing_input_is_infrastructure(sandbox: Sandbox, make_request: MakeRequest) -> None:
    request = make_request("def process(s):\n    return {}\n")
    request.input.unlink()
    outcome = sandbox.run(request)
    assert outcome.kind is OutcomeKind.INFRASTRUCTURE


def test_policy_defaults_work_end_to_end(sandbox: Sandbox, make_request: MakeRequest) -> None:
    outcome = sandbox.run(make_request("def process(s):\n    return {'ok': 1}\n", "x", TEST_POLICY))
    assert outcome.kind is OutcomeKind.OK
    assert outcome.usage.memory_source == "cgroup"
    assert outcome.usage.cpu_seconds > 0 and outcome.usage.peak_memory_bytes > 0


def test_missing_layers_fail_on_ci_and_skip_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception):
        unavailable("no bwrap")
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception):
        unavailable("no bwrap")


SPINNERS = """\
import os
import time


def process(s):
    children = []
    for _ in range(3):
        pid = os.fork()
        if pid == 0:
            end = time.monotonic() + 0.8
            while time.monotonic() < end:
                pass
            os._exit(0)
        children.append(pid)
    for pid in children:
        os.waitpid(pid, 0)
    return {"spinners": len(children)}
"""


def test_a_task_that_forks_spinners_gets_no_more_than_its_admitted_core(
    sandbox: Sandbox, make_request: MakeRequest
) -> None:
    outcome = sandbox.run(make_request(SPINNERS, policy=SandboxPolicy(cpu_cores=0.5)))
    assert outcome.kind is OutcomeKind.OK, outcome
    usage = outcome.usage
    # Three spinners want three cores; the cap allows half of one over the whole run.
    assert usage.cpu_seconds <= 0.5 * usage.wall_seconds + 0.1, usage
