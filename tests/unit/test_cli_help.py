"""`--help` of the real commands shows each setting's default and variable, read from the
settings classes: options default to "not given", yet the help tells the truth."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from pydantic_settings import BaseSettings

from runsurge.config import ClientSettings, ContributorSettings, CoordinatorSettings, env_var


def _help(command: str) -> str:
    run = subprocess.run(
        [sys.executable, "-m", "runsurge", command, "--help"],
        capture_output=True, text=True, check=True, env=dict(os.environ, COLUMNS="300"),
    )  # fmt: skip
    return run.stdout


@pytest.mark.parametrize(
    ("command", "cls", "fields"),
    [
        (
            "coordinator",
            CoordinatorSettings,
            ["listen", "lease_seconds", "heartbeat_interval_seconds"],
        ),
        ("contributor", ContributorSettings, ["coordinator", "memory_bytes"]),
        ("submit", ClientSettings, ["coordinator", "token"]),
    ],
)
def test_help_shows_the_settings_default_and_variable(
    command: str, cls: type[BaseSettings], fields: list[str]
) -> None:
    text = _help(command)
    for field in fields:
        info = cls.model_fields[field]
        line = next(ln for ln in text.splitlines() if f"[env var: {env_var(cls, field)}]" in ln)
        assert info.description and info.description in line
        if info.default not in ("", None):
            assert f"[default: {info.default}]" in line


def test_the_coordinator_help_shows_its_listen_address() -> None:
    assert "[default: 127.0.0.1:7070]" in _help("coordinator")
