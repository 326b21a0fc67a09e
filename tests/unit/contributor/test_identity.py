"""The agent's identity file: written readable by its user only, read back, never guessed."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from runsurge.contributor.identity import Identity, identity_path, load_identity, save_identity
from runsurge.errors import ConfigError


def test_no_identity_file_means_no_identity_yet(tmp_path: Path) -> None:
    assert load_identity(tmp_path / "work") is None


def test_saved_identity_is_read_back_and_only_its_owner_can_read_it(tmp_path: Path) -> None:
    work = tmp_path / "work"
    save_identity(work, Identity("abc123", "rsi_secret"))

    assert load_identity(work) == Identity("abc123", "rsi_secret")
    assert stat.S_IMODE(identity_path(work).stat().st_mode) == 0o600


def test_saving_again_replaces_the_identity_and_keeps_the_mode(tmp_path: Path) -> None:
    save_identity(tmp_path, Identity("old", "rsi_old"))
    identity_path(tmp_path).chmod(0o644)  # loosened by hand: the next save tightens it

    save_identity(tmp_path, Identity("new", "rsi_new"))

    assert load_identity(tmp_path) == Identity("new", "rsi_new")
    assert stat.S_IMODE(identity_path(tmp_path).stat().st_mode) == 0o600


@pytest.mark.parametrize("content", ["", "not json", '{"contributor_id": "x"}', "[1, 2]"])
def test_an_unreadable_identity_file_is_an_error_naming_it_not_a_new_identity(
    tmp_path: Path, content: str
) -> None:
    identity_path(tmp_path).write_text(content)

    with pytest.raises(ConfigError, match="delete it to register as a new contributor"):
        load_identity(tmp_path)
