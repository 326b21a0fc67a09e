"""The hostile corpus through the real Sandbox, then a benign task on the same instance."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from runsurge.sandbox import OutcomeKind, RunRequest, Sandbox
from tests.hostile import cases


@pytest.fixture(scope="module")
def host_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    ctx = cases.HostContext.create(tmp_path_factory.mktemp("host"))
    yield ctx
    ctx.close()


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in cases.SECRET_ENV.items():
        monkeypatch.setenv(key, value)


def test_corpus_is_complete() -> None:
    scripts = {p.stem for p in cases.SCRIPTS.glob("*.py")}
    assert scripts == {case.name for case in cases.CASES}
    assert len(cases.CASES) >= 25


@pytest.mark.parametrize("case", cases.CASES, ids=lambda case: case.name)
def test_hostile_script_is_contained(
    sandbox: Sandbox, host_context: object, secret_env: None, case: object, tmp_path: Path
) -> None:
    input_path = tmp_path / "input.txt"
    input_path.write_text(case.build_input(host_context))
    label = host_context.label_for(case.name)
    outcome = sandbox.run(RunRequest(case.script, input_path, case.policy, label=label))
    case.verify(host_context, outcome)


def test_same_sandbox_runs_benign_task_after_the_corpus(sandbox: Sandbox, tmp_path: Path) -> None:
    script = tmp_path / "benign.py"
    script.write_text("def process(data):\n    return {'words': len(data.split())}\n")
    data = tmp_path / "input.txt"
    data.write_text("one two three")
    outcome = sandbox.run(RunRequest(script, data, cases.HOSTILE_POLICY))
    assert outcome.kind is OutcomeKind.OK, outcome
    assert json.loads(outcome.result_json or b"") == {"words": 3}
    assert os.environ.get("RUNSURGE_TOKEN") is None
