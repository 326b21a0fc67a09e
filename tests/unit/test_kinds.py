"""The shared kinds: one light module, the same enums on both sides, stored as strings."""

from __future__ import annotations

import subprocess
import sys

from runsurge import kinds
from runsurge.sandbox import outcome, runner

HEAVY = ("runsurge.sandbox", "runsurge.scan", "runsurge.store", "sqlalchemy", "grpc", "semgrep")


def test_importing_kinds_loads_no_sandbox_scanner_or_database_code() -> None:
    code = (
        "import sys, runsurge.kinds\n"
        f"heavy = [m for m in sys.modules if m.startswith({HEAVY!r})]\n"
        "print(','.join(heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_the_agent_and_the_coordinator_share_the_same_enums() -> None:
    assert outcome.OutcomeKind is kinds.OutcomeKind
    assert runner.Entrypoint is kinds.TaskKind


def test_values_are_the_strings_used_on_the_wire_and_in_the_database() -> None:
    assert [k.value for k in kinds.JobKind] == ["single", "group"]
    assert [k.value for k in kinds.OnError] == ["continue", "fail-fast"]
    assert [k.value for k in kinds.TaskKind] == ["process", "aggregate"]
    assert all(k.value == k.name for k in kinds.OutcomeKind)
