"""Time, cancel, output, log and memory limits, through both runners where both apply."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

from runsurge.sandbox import OutcomeKind, Sandbox, TaskRunner
from runsurge.sandbox.policy import MiB
from tests.integration.sandbox.sandbox_helpers import TEST_POLICY, MakeRequest


def test_wall_clock_timeout(runner: TaskRunner, make_request: MakeRequest) -> None:
    policy = replace(TEST_POLICY, wall_seconds=0.5)
    started = time.monotonic()
    outcome = runner.run(
        make_request("import time\ndef process(s):\n    time.sleep(60)\n", policy=policy)
    )
    assert outcome.kind is OutcomeKind.TIMEOUT
    assert 0.5 <= time.monotonic() - started < 3.0
    assert 0.45 <= outcome.usage.wall_seconds < 1.5


def test_cancel_kills_the_run_promptly(runner: TaskRunner, make_request: MakeRequest) -> None:
    cancel = threading.Event()
    request = make_request("import time\ndef process(s):\n    time.sleep(60)\n")
    threading.Timer(0.3, cancel.set).start()
    started = time.monotonic()
    outcome = runner.run(request, cancel)
    assert outcome.kind is OutcomeKind.CANCELLED
    assert time.monotonic() - started < 1.5


def test_cpu_limit(runner: TaskRunner, make_request: MakeRequest) -> None:
    policy = replace(TEST_POLICY, cpu_seconds=0.5, wall_seconds=5.0)
    outcome = runner.run(
        make_request("def process(s):\n    while True:\n        pass\n", policy=policy)
    )
    assert outcome.kind is OutcomeKind.CPU_LIMIT
    assert outcome.usage.cpu_seconds >= 0.5


def test_output_cap(runner: TaskRunner, make_request: MakeRequest) -> None:
    policy = replace(TEST_POLICY, max_output_bytes=100_000)
    script = "def process(s):\n    return {'x': 'y' * 200_000}\n"
    outcome = runner.run(make_request(script, policy=policy))
    assert outcome.kind is OutcomeKind.OUTPUT_TOO_LARGE
    assert outcome.result_json is None


def test_result_exactly_at_the_cap_is_accepted(
    runner: TaskRunner, make_request: MakeRequest
) -> None:
    policy = replace(TEST_POLICY, max_output_bytes=1000)
    script = "def process(s):\n    return {'x': 'y' * (1000 - len('{\"x\":\"\"}'))}\n"
    outcome = runner.run(make_request(script, policy=policy))
    assert outcome.kind is OutcomeKind.OK, outcome.error
    assert len(outcome.result_json or b"") == 1000


def test_log_cap_truncates_and_flags(runner: TaskRunner, make_request: MakeRequest) -> None:
    policy = replace(TEST_POLICY, max_log_bytes=1000)
    script = "def process(s):\n    print('z' * 5000)\n    return {'done': True}\n"
    outcome = runner.run(make_request(script, policy=policy))
    assert outcome.kind is OutcomeKind.OK
    assert outcome.logs == b"z" * 1000
    assert outcome.logs_truncated


def test_small_logs_are_not_flagged(runner: TaskRunner, make_request: MakeRequest) -> None:
    outcome = runner.run(make_request("def process(s):\n    print('hi')\n    return {}\n"))
    assert outcome.logs == b"hi\n" and not outcome.logs_truncated


def test_memory_limit_is_out_of_memory(runner: TaskRunner, make_request: MakeRequest) -> None:
    script = (
        "def process(s):\n    keep = []\n    while True:\n        keep.append(b'x' * (1 << 20))\n"
    )
    outcome = runner.run(make_request(script))
    assert outcome.kind is OutcomeKind.OUT_OF_MEMORY


def test_sandbox_cgroup_oom_kill_reports_peak_at_the_limit(
    sandbox: Sandbox, make_request: MakeRequest
) -> None:
    script = (
        "def process(s):\n    keep = []\n    while True:\n"
        "        keep.append(bytearray(b'x' * (1 << 20)))\n"
    )
    outcome = sandbox.run(make_request(script))
    assert outcome.kind is OutcomeKind.OUT_OF_MEMORY
    assert outcome.error is not None and outcome.error.type == "OutOfMemory"
    assert outcome.usage.memory_source == "cgroup"
    assert outcome.usage.peak_memory_bytes >= TEST_POLICY.memory_bytes - 4 * MiB


def test_usage_reflects_memory_held(runner: TaskRunner, make_request: MakeRequest) -> None:
    script = (
        "import time\ndef process(s):\n    blob = bytearray(30 * 1024 * 1024)\n"
        "    for i in range(0, len(blob), 4096):\n        blob[i] = 1\n"
        "    time.sleep(0.4)\n    return {'n': len(blob)}\n"
    )
    outcome = runner.run(make_request(script))
    assert outcome.kind is OutcomeKind.OK, outcome.error
    usage = outcome.usage
    assert usage.peak_memory_bytes >= 30 * MiB
    assert 10 * MiB <= usage.average_memory_bytes <= usage.peak_memory_bytes
    assert usage.samples >= 10
    assert usage.wall_seconds >= 0.4
