"""Warm-session pieces that need no sandbox: limits, arguments, descriptor passing."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest

from runsurge.sandbox import Entrypoint, SandboxPolicy, harness
from runsurge.sandbox.channels import config_fd, session_harness_args
from runsurge.sandbox.session import check_within, control_socketpair


def test_input_policy_within_the_session_is_accepted() -> None:
    session = SandboxPolicy()
    check_within(session, session)
    check_within(replace(session, wall_seconds=1.0, max_output_bytes=10), session)


@pytest.mark.parametrize("field", ["memory_bytes", "pids", "workdir_bytes", "wall_seconds"])
def test_input_policy_beyond_the_session_is_refused(field: str) -> None:
    session = SandboxPolicy()
    bigger = replace(session, **{field: getattr(session, field) * 2})
    with pytest.raises(ValueError, match=field):
        check_within(bigger, session)


def test_session_configuration_reaches_the_harness_through_its_memfd() -> None:
    items = session_harness_args(
        7, "/task/script.py", Entrypoint.AGGREGATE, "RLIMIT_CPU:1:2", ("/work",)
    )
    fd = config_fd(items)
    args = harness.parse_args(harness.read_config([f"config={fd}"]))
    assert args["mode"] == "session" and args["control"] == "7"
    assert args["entry"] == "aggregate" and args["workdirs"] == "/work"
    assert args["rlimits"] == "RLIMIT_CPU:1:2" and "label" not in args
    with pytest.raises(OSError):
        os.fstat(fd)  # read and closed: nothing of it is left for the script


def test_the_harness_takes_only_a_config_descriptor_on_its_command_line() -> None:
    with pytest.raises(SystemExit, match="config=FD"):
        harness.read_config(["control=3", "script=/task/script.py"])


def test_a_configuration_item_with_a_nul_byte_is_refused() -> None:
    with pytest.raises(ValueError, match="NUL"):
        config_fd(["script=/task/a\0b.py"])


def test_session_mode_does_not_need_the_per_run_arguments() -> None:
    with pytest.raises(SystemExit, match="control"):
        harness.parse_args(["mode=session", "script=/s.py", "entry=process"])


def test_descriptors_travel_with_the_request() -> None:
    agent, reporter = control_socketpair()
    read_end, write_end = os.pipe()
    try:
        harness.send_fds(agent, b"request", [write_end, read_end])
        payload, fds = harness.receive_fds(reporter, 2)
        assert payload == b"request" and len(fds) == 2
        os.write(fds[0], b"through the passed descriptor")
        assert os.read(read_end, 100) == b"through the passed descriptor"
        for fd in fds:
            os.close(fd)
        agent.close()
        assert harness.receive_fds(reporter, 2) == (b"", [])
    finally:
        reporter.close()
        os.close(read_end)
        os.close(write_end)


def test_a_request_without_its_descriptors_is_refused() -> None:
    agent, reporter = control_socketpair()
    with agent, reporter:
        agent.send(b"no fds")
        with pytest.raises(SystemExit, match="descriptors"):
            harness.receive_fds(reporter, 3)


class _FakeSource:
    name = "cgroup"

    def __init__(self) -> None:
        self.cpu = 10.0

    def memory_bytes(self) -> int | None:
        return 5

    def peak_memory_bytes(self) -> int | None:
        return 500

    def cpu_seconds(self) -> float | None:
        return self.cpu


def test_input_usage_counts_cpu_from_the_start_of_the_input() -> None:
    from runsurge.sandbox.session import _InputUsage

    source = _FakeSource()
    usage = _InputUsage(source, kernel_peak=True)
    source.cpu = 10.25
    assert usage.cpu_seconds() == pytest.approx(0.25)
    assert usage.peak_memory_bytes() == 500 and usage.memory_bytes() == 5


def test_input_usage_ignores_a_lifetime_kernel_peak() -> None:
    from runsurge.sandbox.session import _InputUsage

    assert _InputUsage(_FakeSource(), kernel_peak=False).peak_memory_bytes() is None
