"""Every structured error the harness reports, through both runners."""

from __future__ import annotations

import json

import pytest

from runsurge.sandbox import Entrypoint, OutcomeKind, TaskRunner
from tests.integration.sandbox.sandbox_helpers import MakeRequest


def run(runner: TaskRunner, make_request: MakeRequest, script: str, data: str | bytes = "x"):
    return runner.run(make_request(script, data))


def test_result_is_returned_as_compact_json(runner: TaskRunner, make_request: MakeRequest) -> None:
    outcome = run(
        runner, make_request, "def process(s):\n    return {'s': s, 'n': [1, 2.5]}\n", "hé"
    )
    assert outcome.kind is OutcomeKind.OK
    assert json.loads(outcome.result_json or b"") == {"s": "hé", "n": [1, 2.5]}
    assert outcome.error is None


def test_syntax_error_reports_the_line(runner: TaskRunner, make_request: MakeRequest) -> None:
    outcome = run(runner, make_request, "def process(s):\n    return {\n\nx = = 1\n")
    assert outcome.kind is OutcomeKind.SCRIPT_ERROR
    assert outcome.error is not None and outcome.error.type == "SyntaxError"
    assert "line" in outcome.error.message


def test_missing_process_is_missing_function(runner: TaskRunner, make_request: MakeRequest) -> None:
    outcome = run(runner, make_request, "def handle(s):\n    return {}\n")
    assert outcome.kind is OutcomeKind.SCRIPT_ERROR
    assert outcome.error is not None and outcome.error.type == "MissingFunction"


def test_non_callable_process_is_missing_function(
    runner: TaskRunner, make_request: MakeRequest
) -> None:
    outcome = run(runner, make_request, "process = 42\n")
    assert outcome.error is not None and outcome.error.type == "MissingFunction"
    assert "int" in outcome.error.message


@pytest.mark.parametrize(
    "signature",
    ["def process():", "def process(a, b):", "def process(a, *, key):"],
)
def test_wrong_signature_is_bad_signature(
    runner: TaskRunner, make_request: MakeRequest, signature: str
) -> None:
    outcome = run(runner, make_request, f"{signature}\n    return {{}}\n")
    assert outcome.kind is OutcomeKind.SCRIPT_ERROR
    assert outcome.error is not None and outcome.error.type == "BadSignature", outcome.error


def test_flexible_signatures_are_accepted(runner: TaskRunner, make_request: MakeRequest) -> None:
    script = (
        "class P:\n    def __call__(self, data, extra=1):\n        return {'d': data}\n"
        "process = P()\n"
    )
    assert run(runner, make_request, script).kind is OutcomeKind.OK
    script = "def process(*args, key=2):\n    return {'n': len(args)}\n"
    assert run(runner, make_request, script).kind is OutcomeKind.OK


def test_exception_carries_type_message_and_user_traceback(
    runner: TaskRunner, make_request: MakeRequest
) -> None:
    script = (
        "def helper(v):\n    raise ValueError(f'bad value {v}')\n\n"
        "def process(s):\n    return helper(s)\n"
    )
    outcome = run(runner, make_request, script, "42")
    assert outcome.kind is OutcomeKind.SCRIPT_ERROR
    error = outcome.error
    assert error is not None and error.type == "ValueError"
    assert error.message == "bad value 42"
    assert "line 2, in helper" in error.traceback and "line 5, in process" in error.traceback
    assert "harness" not in error.traceback  # trimmed to the user's frames


def test_exception_at_import_time_is_reported(
    runner: TaskRunner, make_request: MakeRequest
) -> None:
    outcome = run(runner, make_request, "import does_not_exist\ndef process(s):\n    return {}\n")
    assert outcome.error is not None and outcome.error.type == "ModuleNotFoundError"


@pytest.mark.parametrize(
    ("returned", "expected_words"),
    [
        ("[1, 2]", "not list"),
        ("None", "not NoneType"),
        ("{'a': {1, 2}}", "result['a']: value of type set"),
        ("{'a': [1, float('nan')]}", "result['a'][1]: nan"),
        ("{(1, 2): 3}", "key (1, 2) of type tuple"),
        ("{'s': '\\ud800'}", "lone surrogate"),
    ],
)
def test_invalid_results_say_which_key_and_type(
    runner: TaskRunner, make_request: MakeRequest, returned: str, expected_words: str
) -> None:
    outcome = run(runner, make_request, f"def process(s):\n    return {returned}\n")
    assert outcome.kind is OutcomeKind.SCRIPT_ERROR
    assert outcome.error is not None and outcome.error.type == "InvalidResult"
    assert expected_words in outcome.error.message, outcome.error.message


def test_non_utf8_input_is_input_decode_error(
    runner: TaskRunner, make_request: MakeRequest
) -> None:
    outcome = run(runner, make_request, "def process(s):\n    return {}\n", b"ok\xff\xfe")
    assert outcome.kind is OutcomeKind.SCRIPT_ERROR
    assert outcome.error is not None and outcome.error.type == "InputDecodeError"
    assert "offset 2" in outcome.error.message


def test_sys_exit_is_script_error(runner: TaskRunner, make_request: MakeRequest) -> None:
    outcome = run(runner, make_request, "import sys\ndef process(s):\n    sys.exit(3)\n")
    assert outcome.kind is OutcomeKind.SCRIPT_ERROR
    assert outcome.error is not None and outcome.error.type == "SystemExit"


def test_os_exit_zero_is_never_ok(runner: TaskRunner, make_request: MakeRequest) -> None:
    outcome = run(runner, make_request, "import os\ndef process(s):\n    os._exit(0)\n")
    assert outcome.kind is OutcomeKind.SCRIPT_ERROR
    assert outcome.error is not None and outcome.error.type == "ExitedWithoutResult"


def test_segfault_is_killed_by_signal(runner: TaskRunner, make_request: MakeRequest) -> None:
    script = "import ctypes\ndef process(s):\n    ctypes.string_at(0)\n"
    outcome = run(runner, make_request, script)
    assert outcome.kind is OutcomeKind.SCRIPT_ERROR
    assert outcome.error is not None and outcome.error.type == "KilledBySignal"
    assert "SIGSEGV" in outcome.error.message


def test_logs_are_captured_separately_from_the_result(
    runner: TaskRunner, make_request: MakeRequest
) -> None:
    script = (
        "import sys\ndef process(s):\n    print('to stdout')\n"
        "    print('to stderr', file=sys.stderr)\n    return {'ok': True}\n"
    )
    outcome = run(runner, make_request, script)
    assert outcome.kind is OutcomeKind.OK
    assert b"to stdout" in outcome.logs and b"to stderr" in outcome.logs
    assert json.loads(outcome.result_json or b"") == {"ok": True}


def test_aggregate_streams_json_lines_into_a_list(
    runner: TaskRunner, make_request: MakeRequest
) -> None:
    script = "def aggregate(results):\n    return {'total': sum(r['n'] for r in results)}\n"
    data = "\n".join(json.dumps({"n": n}) for n in range(1, 101)) + "\n"
    outcome = runner.run(make_request(script, data, entrypoint=Entrypoint.AGGREGATE))
    assert outcome.kind is OutcomeKind.OK, outcome.error
    assert json.loads(outcome.result_json or b"") == {"total": 5050}


def test_aggregate_without_aggregate_function(
    runner: TaskRunner, make_request: MakeRequest
) -> None:
    script = "def process(s):\n    return {}\n"
    outcome = runner.run(make_request(script, "{}\n", entrypoint=Entrypoint.AGGREGATE))
    assert outcome.error is not None and outcome.error.type == "MissingFunction"


def test_aggregate_rejects_a_line_that_is_not_an_object(
    runner: TaskRunner, make_request: MakeRequest
) -> None:
    script = "def aggregate(results):\n    return {}\n"
    outcome = runner.run(make_request(script, '{"a": 1}\n[1]\n', entrypoint=Entrypoint.AGGREGATE))
    assert outcome.error is not None and outcome.error.type == "InputDecodeError"
    assert "line 2" in outcome.error.message


def test_forked_children_returning_into_the_harness_do_not_report(
    runner: TaskRunner, make_request: MakeRequest
) -> None:
    script = (
        "import os\ndef process(s):\n    pid = os.fork()\n    if pid == 0:\n"
        "        return {'from': 'child'}\n    os.waitpid(pid, 0)\n    return {'from': 'worker'}\n"
    )
    outcome = run(runner, make_request, script)
    assert outcome.kind is OutcomeKind.OK, outcome.error
    assert json.loads(outcome.result_json or b"") == {"from": "worker"}


def test_forked_children_raising_do_not_report(
    runner: TaskRunner, make_request: MakeRequest
) -> None:
    script = (
        "import os\ndef process(s):\n    pid = os.fork()\n    if pid == 0:\n"
        "        raise RuntimeError('child')\n"
        "    os.waitpid(pid, 0)\n    raise KeyError('worker')\n"
    )
    outcome = run(runner, make_request, script)
    assert outcome.kind is OutcomeKind.SCRIPT_ERROR
    assert outcome.error is not None and outcome.error.type == "KeyError"


def test_a_result_nested_past_the_limit_is_the_consumers_invalid_result(
    runner: TaskRunner, make_request: MakeRequest
) -> None:
    script = (
        "def process(s):\n"
        "    value = []\n"
        "    for _ in range(400):\n"
        "        value = [value]\n"
        "    return {'deep': value}\n"
    )
    outcome = run(runner, make_request, script)
    assert outcome.kind is OutcomeKind.SCRIPT_ERROR, outcome
    assert outcome.error is not None and outcome.error.type == "InvalidResult"
    assert "nested too deep (limit 256)" in outcome.error.message


def test_keys_that_collide_as_strings_are_an_invalid_result(
    runner: TaskRunner, make_request: MakeRequest
) -> None:
    outcome = run(runner, make_request, "def process(s):\n    return {1: 'int', '1': 'str'}\n")
    assert outcome.kind is OutcomeKind.SCRIPT_ERROR, outcome
    assert outcome.error is not None and outcome.error.type == "InvalidResult"
    assert "duplicate key '1'" in outcome.error.message
