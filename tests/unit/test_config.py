"""Sizes and client settings resolve the way the CLI documents."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from runsurge.config import (
    ClientSettings,
    ContributorSettings,
    CoordinatorSettings,
    load_settings,
    parse_size,
    write_client_config,
)
from runsurge.errors import ConfigError
from runsurge.sandbox.policy import SandboxPolicy


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("512MiB", 512 * 1024**2),
        ("2GiB", 2 * 1024**3),
        ("1.5GiB", int(1.5 * 1024**3)),
        ("2G", 2 * 1000**3),
        ("1000", 1000),
        ("64 kib", 64 * 1024),
    ],
)
def test_sizes_parse(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "lots", "5 parsecs", "-1GiB"])
def test_bad_sizes_say_how_to_write_one(text: str) -> None:
    with pytest.raises(ConfigError, match="try 512MiB"):
        parse_size(text)


def test_flags_and_environment_win_over_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "client.json"
    write_client_config(config, "127.0.0.1:1111", "file-token")
    assert oct(config.stat().st_mode & 0o777) == "0o600"
    monkeypatch.setenv("RUNSURGE_COORDINATOR", "127.0.0.1:2222")
    resolved = ClientSettings(config=config).resolved()
    assert (resolved.coordinator, resolved.token) == ("127.0.0.1:2222", "file-token")
    explicit = ClientSettings(config=config, token="flag-token").resolved()
    assert explicit.token == "flag-token"


def test_task_limits_default_to_the_sandbox_policy_itself() -> None:
    settings = CoordinatorSettings()
    assert settings.default_policy() == SandboxPolicy()
    for limit in dataclasses.fields(SandboxPolicy):
        if limit.name == "cpu_cores":
            continue  # the agent's: one slot is one core, and the sandbox caps it there
        assert getattr(settings, f"task_{limit.name}") == limit.default, limit.name
    assert settings.default_policy(memory_bytes=1234).memory_bytes == 1234


def test_environment_configures_a_role_and_a_given_flag_wins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RUNSURGE_COORDINATOR_LISTEN", "0.0.0.0:9000")
    monkeypatch.setenv("RUNSURGE_COORDINATOR_LEASE_SECONDS", "4.5")
    from_env = load_settings(CoordinatorSettings, {"listen": None, "lease_seconds": None})
    assert (from_env.listen, from_env.lease_seconds) == ("0.0.0.0:9000", 4.5)
    flagged = load_settings(CoordinatorSettings, {"listen": "127.0.0.1:9001"})
    assert (flagged.listen, flagged.lease_seconds) == ("127.0.0.1:9001", 4.5)


def test_sizes_may_be_written_with_units_in_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RUNSURGE_CONTRIBUTOR_MEMORY_BYTES", "4GiB")
    monkeypatch.setenv("RUNSURGE_CONTRIBUTOR_CORES", "3")
    monkeypatch.setenv("RUNSURGE_COORDINATOR_TASK_MEMORY_BYTES", "256MiB")
    contributor = load_settings(ContributorSettings)
    assert (contributor.memory_bytes, contributor.cores) == (4 * 1024**3, 3)
    assert load_settings(ContributorSettings, {"memory_bytes": "1.5GiB"}).memory_bytes == int(
        1.5 * 1024**3
    )
    assert load_settings(CoordinatorSettings).default_policy().memory_bytes == 256 * 1024**2


def test_a_bad_value_names_the_setting_and_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNSURGE_CONTRIBUTOR_MEMORY_BYTES", "lots")
    with pytest.raises(
        ConfigError, match=r"memory_bytes \(its flag or RUNSURGE_CONTRIBUTOR_MEMORY"
    ):
        load_settings(ContributorSettings)
    with pytest.raises(ConfigError, match=r"RUNSURGE_COORDINATOR_LISTEN.*must be HOST:PORT"):
        load_settings(CoordinatorSettings, {"listen": "nowhere"})


def test_a_refused_token_is_not_echoed() -> None:
    with pytest.raises(ConfigError, match="RUNSURGE_CONTRIBUTOR_TOKEN") as caught:
        load_settings(ContributorSettings, {"token": 98765})  # not a str: refused
    assert "98765" not in str(caught.value)
