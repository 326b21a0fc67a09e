"""Fixtures for tests that start real sandboxes.

Tests that need bubblewrap, cgroups or root skip with the reason on a laptop that
lacks them, but fail when ``CI=true``: CI must never pass by skipping the sandbox.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runsurge.sandbox import (
    Entrypoint,
    RunRequest,
    Sandbox,
    SandboxPolicy,
    SubprocessRunner,
    detect_isolation,
)
from tests.integration.sandbox.sandbox_helpers import TEST_POLICY, MakeRequest, unavailable


@pytest.fixture(scope="session")
def sandbox() -> Sandbox:
    """The full Sandbox, if this host supports every layer."""
    report = detect_isolation()
    missing = [f"{s.name}: {s.detail}" for s in report.layers if not s.available]
    if missing:
        unavailable("; ".join(missing))
    return Sandbox()


@pytest.fixture(scope="session")
def subprocess_runner() -> SubprocessRunner:
    """The insecure development runner (always available)."""
    return SubprocessRunner()


@pytest.fixture(params=["sandbox", "subprocess"])
def runner(request: pytest.FixtureRequest) -> Iterator[object]:
    """Each runner in turn, for behaviour both must share."""
    yield request.getfixturevalue("sandbox" if request.param == "sandbox" else "subprocess_runner")


@pytest.fixture
def make_request(tmp_path: Path) -> MakeRequest:
    """Write a script and an input to files and wrap them in a RunRequest."""
    counter = iter(range(10**6))

    def make(
        script: str,
        data: str | bytes = "",
        policy: SandboxPolicy = TEST_POLICY,
        entrypoint: Entrypoint = Entrypoint.PROCESS,
    ) -> RunRequest:
        n = next(counter)
        script_path = tmp_path / f"script{n}.py"
        script_path.write_text(script)
        input_path = tmp_path / f"input{n}.txt"
        input_path.write_bytes(data.encode() if isinstance(data, str) else data)
        return RunRequest(script_path, input_path, policy, entrypoint, label=f"test {n}")

    return make
