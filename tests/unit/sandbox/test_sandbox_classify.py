"""Classification: which observation becomes which OutcomeKind, in which order."""

from __future__ import annotations

import signal

import pytest

from runsurge.sandbox import harness
from runsurge.sandbox.classify import Observation, classify
from runsurge.sandbox.framing import ExitReport, HarnessReport
from runsurge.sandbox.outcome import OutcomeKind, ScriptError, Usage
from runsurge.sandbox.policy import SandboxPolicy
from runsurge.sandbox.supervise import StopReason

POLICY = SandboxPolicy(cpu_seconds=2)


def exited(code: int | None = 0, sig: int | None = None, problem: str | None = None) -> ExitReport:
    return ExitReport(exit_code=code, signal=sig, problem=problem, result_bytes=2)


def observe(
    *,
    stop: StopReason = StopReason.REPORTED,
    result: bytes | None = None,
    error: ScriptError | None = None,
    exit_report: ExitReport | None = None,
    hello: bool = True,
    oom: int = 0,
    cpu: float = 0.0,
    **report: object,
) -> tuple[OutcomeKind, ScriptError | None, bytes | None]:
    harness_report = HarnessReport(hello=hello, result=result, error=error, exit=exit_report)
    for key, value in report.items():
        setattr(harness_report, key, value)
    return classify(
        Observation(stop, harness_report, POLICY, Usage(cpu_seconds=cpu), oom_kills=oom)
    )


def test_clean_result_is_ok() -> None:
    kind, error, result = observe(result=b'{"a":1}', exit_report=exited())
    assert kind is OutcomeKind.OK and error is None and result == b'{"a":1}'


def test_result_that_is_not_an_object_is_a_violation() -> None:
    kind, _, result = observe(result=b"[1]", exit_report=exited())
    assert kind is OutcomeKind.SANDBOX_VIOLATION and result is None


def test_an_ok_result_is_forwarded_in_canonical_form() -> None:
    kind, _, result = observe(result=b'{ "a" : [1, 2.5, "\\u00e9"] }', exit_report=exited())
    assert kind is OutcomeKind.OK and result == '{"a":[1,2.5,"é"]}'.encode()


@pytest.mark.parametrize("loose", [b'{"a": NaN}', b'{"a": 1e999}', b'{"a": "\\ud800"}'])
def test_loose_json_no_harness_sends_is_a_violation(loose: bytes) -> None:
    kind, error, result = observe(result=loose, exit_report=exited())
    assert kind is OutcomeKind.SANDBOX_VIOLATION and result is None
    assert error is not None and error.type == "ProtocolViolation"


@pytest.mark.parametrize(
    ("returned", "reason"),
    [
        (b'{"a":' + b"[" * 400 + b"]" * 400 + b"}", "nested too deep (limit 256)"),
        (b'{"1": "int key", "1": "str key"}', "duplicate key '1'"),
    ],
)
def test_what_the_consumers_own_dict_can_produce_is_an_invalid_result(
    returned: bytes, reason: str
) -> None:
    kind, error, result = observe(result=returned, exit_report=exited())
    assert kind is OutcomeKind.SCRIPT_ERROR and result is None
    assert error is not None and error.type == "InvalidResult" and reason in error.message


@pytest.mark.parametrize(
    ("stop", "kind"),
    [
        (StopReason.CANCELLED, OutcomeKind.CANCELLED),
        (StopReason.TIMEOUT, OutcomeKind.TIMEOUT),
        (StopReason.CPU_LIMIT, OutcomeKind.CPU_LIMIT),
    ],
)
def test_agent_decisions_outrank_everything(stop: StopReason, kind: OutcomeKind) -> None:
    assert observe(stop=stop, result=b"{}", exit_report=exited(), oom=1)[0] is kind


def test_oom_kill_counter_wins_over_a_missing_report() -> None:
    assert observe(exit_report=exited(None, signal.SIGKILL), oom=1)[0] is OutcomeKind.OUT_OF_MEMORY
    assert observe(hello=False, oom=1)[0] is OutcomeKind.OUT_OF_MEMORY


def test_ok_result_wins_over_an_unrelated_oom_kill() -> None:
    assert observe(result=b"{}", exit_report=exited(), oom=1)[0] is OutcomeKind.OK


def test_seccomp_kill_is_a_violation() -> None:
    kind, error, _ = observe(exit_report=exited(None, signal.SIGSYS))
    assert kind is OutcomeKind.SANDBOX_VIOLATION and error is not None
    assert error.type == "SeccompViolation"


def test_sigxcpu_and_sigkill_over_budget_are_cpu_limit() -> None:
    assert observe(exit_report=exited(None, signal.SIGXCPU))[0] is OutcomeKind.CPU_LIMIT
    assert observe(exit_report=exited(None, signal.SIGKILL), cpu=2.5)[0] is OutcomeKind.CPU_LIMIT


def test_other_signals_are_script_errors() -> None:
    kind, error, _ = observe(exit_report=exited(None, signal.SIGSEGV))
    assert kind is OutcomeKind.SCRIPT_ERROR and error is not None
    assert error.type == "KilledBySignal" and "SIGSEGV" in error.message


def test_exit_without_result_is_never_ok() -> None:
    kind, error, _ = observe(exit_report=exited(0))
    assert kind is OutcomeKind.SCRIPT_ERROR and error is not None
    assert error.type == "ExitedWithoutResult"


def test_result_with_nonzero_exit_is_not_ok() -> None:
    assert observe(result=b"{}", exit_report=exited(1))[0] is OutcomeKind.SCRIPT_ERROR


def test_script_error_is_passed_through() -> None:
    error = ScriptError("KeyError", "'x'", "tb")
    assert observe(error=error, exit_report=exited()) == (OutcomeKind.SCRIPT_ERROR, error, None)


def test_memory_error_is_out_of_memory_and_keeps_the_error() -> None:
    error = ScriptError("MemoryError", "", "tb")
    assert observe(error=error, exit_report=exited()) == (OutcomeKind.OUT_OF_MEMORY, error, None)


def test_too_large_from_either_side() -> None:
    assert observe(too_large=10**9)[0] is OutcomeKind.OUTPUT_TOO_LARGE
    report = exited(None, signal.SIGKILL, harness.PROBLEM_TOO_LARGE)
    assert observe(exit_report=report)[0] is OutcomeKind.OUTPUT_TOO_LARGE


@pytest.mark.parametrize(
    "problem", [harness.PROBLEM_BAD_MESSAGE, harness.PROBLEM_TRAILING, harness.PROBLEM_TRUNCATED]
)
def test_worker_protocol_problems_are_violations(problem: str) -> None:
    kind, error, _ = observe(result=b"{}", exit_report=exited(0, None, problem))
    assert kind is OutcomeKind.SANDBOX_VIOLATION and error is not None
    assert error.type == "ProtocolViolation"


def test_channel_violation_is_a_violation() -> None:
    assert observe(violation="bad frame magic")[0] is OutcomeKind.SANDBOX_VIOLATION


def test_no_hello_is_infrastructure() -> None:
    kind, error, _ = observe(hello=False, stop=StopReason.PROCESS_EXITED)
    assert kind is OutcomeKind.INFRASTRUCTURE and error is not None
    assert error.type == "SandboxStartFailed"


def test_reporter_dying_without_exit_is_a_violation() -> None:
    kind, error, _ = observe(stop=StopReason.CHANNEL_CLOSED)
    assert kind is OutcomeKind.SANDBOX_VIOLATION and error is not None
    assert error.type == "HarnessKilled"
