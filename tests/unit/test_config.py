"""Sizes and client settings resolve the way the CLI documents."""

from __future__ import annotations

from pathlib import Path

import pytest

from runsurge.config import ClientSettings, parse_size, write_client_config
from runsurge.errors import ConfigError


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
