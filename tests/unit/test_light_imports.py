"""The consumer side stays light: settings, SDK and wire limits pull in no sandbox code."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _loaded_after(statement: str) -> set[str]:
    """The runsurge modules a fresh interpreter has loaded after `statement`."""
    listing = "print(*sorted(m for m in sys.modules if m.startswith('runsurge')))"
    code = f"import sys\n{statement}\n{listing}"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(run.stdout.split())


def test_wire_limits_import_nothing_of_runsurge() -> None:
    assert _loaded_after("import runsurge.wire_limits") == {"runsurge", "runsurge.wire_limits"}


@pytest.mark.parametrize("module", ["runsurge.config", "runsurge.client", "runsurge.aio"])
def test_settings_and_sdk_load_no_sandbox_code_beyond_the_policy(module: str) -> None:
    # Whatever runsurge/sandbox/__init__.py loads itself is its own business; what `module`
    # must not add is any other sandbox module.
    policy_only = _loaded_after("import runsurge.sandbox.policy")
    sandbox = {m for m in _loaded_after(f"import {module}") if m.startswith("runsurge.sandbox")}
    assert sandbox <= policy_only
