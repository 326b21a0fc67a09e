"""Shared helpers for the sandbox integration tests (imported by name: not a conftest)."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from runsurge.sandbox import RunRequest, SandboxPolicy
from runsurge.sandbox.policy import MiB

TEST_POLICY = SandboxPolicy(
    memory_bytes=64 * MiB,
    pids=32,
    cpu_seconds=2.0,
    wall_seconds=3.0,
    max_output_bytes=1 * MiB,
    max_log_bytes=64 * 1024,
    workdir_bytes=16 * MiB,
)


def unavailable(reason: str) -> None:
    """Skip locally, fail on CI."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"required sandbox layer missing on CI: {reason}")
    pytest.skip(reason)


MakeRequest = Callable[..., RunRequest]
