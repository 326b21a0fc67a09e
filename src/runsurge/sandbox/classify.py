"""Turn what was observed during a run into exactly one OutcomeKind.

Facts the agent observed itself (its own timeout, cancel and CPU checks, the
cgroup's OOM counter, the frame reader's verdict) outrank what the harness
reported, and the harness's report outranks the bare exit status.  The order of
the rules below is the specification; ``docs/security.md`` repeats it in prose.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass

from runsurge.sandbox import harness
from runsurge.sandbox.framing import HarnessReport
from runsurge.sandbox.outcome import Outcome, OutcomeKind, ScriptError, Usage
from runsurge.sandbox.policy import SandboxPolicy
from runsurge.sandbox.supervise import StopReason, Streams
from runsurge.strict_json import StrictJSONError, canonical_object

_MiB = 1024 * 1024


@dataclass(frozen=True)
class Observation:
    """Everything classification looks at."""

    stop: StopReason
    report: HarnessReport
    policy: SandboxPolicy
    usage: Usage
    oom_kills: int = 0
    exit_returncode: int | None = None  # of the directly spawned process
    diagnostics: str = ""  # bubblewrap's / the reporter's stderr


def classify(obs: Observation) -> tuple[OutcomeKind, ScriptError | None, bytes | None]:
    """(kind, error, result_json) for an observation."""
    policy, report = obs.policy, obs.report
    if obs.stop is StopReason.CANCELLED:
        return _fail(OutcomeKind.CANCELLED, "Cancelled", "the run was cancelled by the agent")
    if obs.stop is StopReason.TIMEOUT:
        return _fail(
            OutcomeKind.TIMEOUT,
            "Timeout",
            f"exceeded the wall-clock limit of {policy.wall_seconds:g} s",
        )
    if obs.stop is StopReason.CPU_LIMIT:
        return _cpu_limit(policy)
    if report.too_large is not None:
        return _too_large(report.too_large, policy)
    if report.violation is not None:
        return _fail(
            OutcomeKind.SANDBOX_VIOLATION,
            "ProtocolViolation",
            f"result channel: {report.violation}",
        )
    if report.exit is not None and report.exit.problem == harness.PROBLEM_TOO_LARGE:
        return _too_large(report.exit.result_bytes, policy)
    ok = _accept_result(report)
    if ok is not None:
        return ok
    if obs.oom_kills > 0:
        return _out_of_memory(policy)
    if not report.hello:
        detail = obs.diagnostics.strip() or f"exit status {obs.exit_returncode}"
        return _fail(
            OutcomeKind.INFRASTRUCTURE, "SandboxStartFailed", f"the harness never started: {detail}"
        )
    if report.exit is None:
        return _reporter_died(obs)
    return _from_exit_report(obs)


def _accept_result(
    report: HarnessReport,
) -> tuple[OutcomeKind, ScriptError | None, bytes | None] | None:
    exit_report = report.exit
    if exit_report is None or report.result is None:
        return None
    if exit_report.problem is None and exit_report.exit_code == 0:
        try:
            return OutcomeKind.OK, None, canonical_object(report.result)
        except StrictJSONError as exc:
            if exc.from_return_value:
                return _fail(
                    OutcomeKind.SCRIPT_ERROR, "InvalidResult", f"the returned dict is {exc.reason}"
                )
            return _fail(
                OutcomeKind.SANDBOX_VIOLATION,
                "ProtocolViolation",
                f"the result frame is not strict JSON of an object ({exc.reason}), "
                "which the harness never sends",
            )
    return None


def _from_exit_report(obs: Observation) -> tuple[OutcomeKind, ScriptError | None, bytes | None]:
    report, policy = obs.report, obs.policy
    assert report.exit is not None
    exit_report = report.exit
    if exit_report.problem is not None:
        return _fail(
            OutcomeKind.SANDBOX_VIOLATION,
            "ProtocolViolation",
            f"the worker's message to the reporter was invalid ({exit_report.problem}); "
            "something other than the harness wrote to it",
        )
    if exit_report.signal == signal.SIGSYS:
        return _fail(
            OutcomeKind.SANDBOX_VIOLATION,
            "SeccompViolation",
            "the script made a forbidden system call and was killed (SIGSYS)",
        )
    if exit_report.signal == signal.SIGXCPU or (
        exit_report.signal == signal.SIGKILL and obs.usage.cpu_seconds >= policy.cpu_seconds
    ):
        return _cpu_limit(policy)
    if report.error is not None and exit_report.exit_code == 0:
        return _from_script_error(report.error, policy)
    if exit_report.signal is not None:
        name = _signal_name(exit_report.signal)
        return _fail(
            OutcomeKind.SCRIPT_ERROR, "KilledBySignal", f"the script's process was killed by {name}"
        )
    return _fail(
        OutcomeKind.SCRIPT_ERROR,
        "ExitedWithoutResult",
        f"the script's process exited (code {exit_report.exit_code}) without returning a result",
    )


def _from_script_error(
    error: ScriptError, policy: SandboxPolicy
) -> tuple[OutcomeKind, ScriptError | None, bytes | None]:
    if error.type == "MemoryError":
        return OutcomeKind.OUT_OF_MEMORY, error, None
    if error.type == "OutputTooLarge":
        return OutcomeKind.OUTPUT_TOO_LARGE, error, None
    return OutcomeKind.SCRIPT_ERROR, error, None


def _reporter_died(obs: Observation) -> tuple[OutcomeKind, ScriptError | None, bytes | None]:
    returncode = obs.exit_returncode
    if returncode is not None and returncode in (-signal.SIGXCPU, 128 + signal.SIGXCPU):
        return _cpu_limit(obs.policy)
    if obs.usage.cpu_seconds >= obs.policy.cpu_seconds:
        return _cpu_limit(obs.policy)
    return _fail(
        OutcomeKind.SANDBOX_VIOLATION,
        "HarnessKilled",
        f"the harness ended without a final report (exit status {returncode})",
    )


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _cpu_limit(policy: SandboxPolicy) -> tuple[OutcomeKind, ScriptError, None]:
    return _fail(
        OutcomeKind.CPU_LIMIT, "CpuLimit", f"exceeded the CPU limit of {policy.cpu_seconds:g} s"
    )


def _out_of_memory(policy: SandboxPolicy) -> tuple[OutcomeKind, ScriptError, None]:
    return _fail(
        OutcomeKind.OUT_OF_MEMORY,
        "OutOfMemory",
        f"killed for exceeding the memory limit of {policy.memory_bytes / _MiB:g} MiB",
    )


def _too_large(size: int, policy: SandboxPolicy) -> tuple[OutcomeKind, ScriptError, None]:
    return _fail(
        OutcomeKind.OUTPUT_TOO_LARGE,
        "OutputTooLarge",
        f"the result is {size} bytes; the limit is {policy.max_output_bytes}",
    )


def _fail(kind: OutcomeKind, type_name: str, message: str) -> tuple[OutcomeKind, ScriptError, None]:
    return kind, ScriptError(type=type_name, message=message), None


def build_outcome(
    obs: Observation, logs: bytes, logs_truncated: bool, leftovers: tuple[str, ...] = ()
) -> Outcome:
    """The Outcome for an observation."""
    kind, error, result = classify(obs)
    return Outcome(
        kind=kind,
        result_json=result,
        error=error,
        logs=logs,
        logs_truncated=logs_truncated,
        usage=obs.usage,
        leftovers=leftovers,
    )


def outcome_of(
    stop: StopReason,
    streams: Streams,
    policy: SandboxPolicy,
    usage: Usage,
    oom_kills: int,
    exit_returncode: int | None,
    leftovers: tuple[str, ...] = (),
) -> Outcome:
    """The Outcome of one supervised run (cold or warm), from what its streams captured."""
    diagnostics = (
        streams.diagnostics.value().decode(errors="replace") if streams.diagnostics else ""
    )
    observation = Observation(
        stop=stop,
        report=streams.reader.report,
        policy=policy,
        usage=usage,
        oom_kills=oom_kills,
        exit_returncode=exit_returncode,
        diagnostics=diagnostics,
    )
    return build_outcome(observation, streams.logs.value(), streams.logs.truncated, leftovers)
