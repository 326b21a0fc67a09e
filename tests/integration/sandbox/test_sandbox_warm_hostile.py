"""The hostile corpus through warm sessions: the outcomes of cold runs, nothing left behind."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from runsurge.sandbox import Entrypoint, OutcomeKind, Sandbox
from tests.hostile import cases

# Cases whose attack ends the session's zygote (it is the worker's parent in warm mode),
# or whose limit ends the whole session; every other case runs in one shared session too.
SESSION_ENDING = {"kill_parent_and_init", "sleep_forever", "cpu_loop"}
# What warm mode legitimately changes: the worker's parent is the zygote, not PID 1, so
# only the outcome kind and the host checks apply.
OUTCOME_ONLY = {"kill_parent_and_init"}

DISPATCHER = """\
import json
_CASES = json.loads({sources!r})
_FUNCTIONS = {{}}
for _name, _source in _CASES.items():
    _namespace = {{"__name__": _name}}
    exec(compile(_source, "/task/" + _name + ".py", "exec"), _namespace)
    _FUNCTIONS[_name] = _namespace["process"]


def process(data):
    name, _, rest = data.partition("\\n")
    return _FUNCTIONS[name](rest)
"""


@pytest.fixture(scope="module")
def host_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[cases.HostContext]:
    ctx = cases.HostContext.create(tmp_path_factory.mktemp("host"))
    yield ctx
    ctx.close()


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in cases.SECRET_ENV.items():
        monkeypatch.setenv(key, value)


@pytest.mark.parametrize("case", cases.CASES, ids=lambda case: case.name)
def test_hostile_script_in_its_own_session(
    sandbox: Sandbox,
    host_context: cases.HostContext,
    secret_env: None,
    case: cases.HostileCase,
    tmp_path: Path,
) -> None:
    input_path = tmp_path / "input.txt"
    input_path.write_text(case.build_input(host_context))
    label = host_context.label_for(case.name)
    session = sandbox.open_session(case.script, Entrypoint.PROCESS, case.policy, label=label)
    try:
        outcome = session.run(input_path, case.policy, label=label)
    finally:
        session.close()
    assert session.leftovers == ()  # type: ignore[attr-defined]
    if case.name in OUTCOME_ONLY:
        assert outcome.kind is case.expected, outcome
        case.check(host_context)
    else:
        case.verify(host_context, outcome)


def test_non_fatal_cases_in_sequence_through_one_session(
    sandbox: Sandbox, host_context: cases.HostContext, secret_env: None, tmp_path: Path
) -> None:
    chosen = [case for case in cases.CASES if case.name not in SESSION_ENDING]
    sources = {case.name: case.script.read_text() for case in chosen}
    script = tmp_path / "dispatcher.py"
    script.write_text(DISPATCHER.format(sources=json.dumps(sources)))
    label = host_context.label_for("warm-sequence")
    session = sandbox.open_session(script, Entrypoint.PROCESS, cases.HOSTILE_POLICY, label=label)
    try:
        for case in chosen * 2:  # twice: nothing an attack did may change a later input
            input_path = tmp_path / "input.txt"
            input_path.write_text(case.name + "\n" + case.build_input(host_context))
            outcome = session.run(input_path, case.policy, label=label)
            detail = f"{case.name}: {outcome.kind} {outcome.error}"
            assert outcome.kind is case.expected, detail
            if case.error_type is not None:
                assert outcome.error is not None and outcome.error.type == case.error_type, detail
            if case.check_result is not None and outcome.result_json is not None:
                case.check_result(json.loads(outcome.result_json), host_context)
            assert session.alive, detail
        benign = tmp_path / "benign.txt"
        benign.write_text("print_environ\n")
        assert session.run(benign, cases.HOSTILE_POLICY).kind is OutcomeKind.OK
    finally:
        session.close()
    assert session.leftovers == ()  # type: ignore[attr-defined]
    host_context.assert_untouched()
