"""The agent's identity on disk: its contributor id and the secret that proves it.

Kept in the work dir (`identity.json`, mode 0600) so that a restarted agent is the
same contributor to the coordinator. The secret is what stops anyone else holding
the enrolment token from registering under this id; delete the file to make the
machine a new contributor.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from runsurge.errors import ConfigError

IDENTITY_FILE = "identity.json"  # the coordinator names it in its refusal, too


@dataclass(frozen=True)
class Identity:
    """A contributor id and its secret, as the coordinator issued them."""

    contributor_id: str
    secret: str


def identity_path(work_dir: Path) -> Path:
    """Where the identity of the agent using `work_dir` is kept."""
    return work_dir / IDENTITY_FILE


def load_identity(work_dir: Path) -> Identity | None:
    """The saved identity, or None when there is none yet.

    A file that exists but cannot be read as an identity is a ConfigError: silently
    registering afresh would leave the old contributor behind.
    """
    path = identity_path(work_dir)
    try:
        data = json.loads(path.read_text())
        return Identity(str(data["contributor_id"]), str(data["secret"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"cannot read the agent identity {path} ({exc}); delete it to register as a "
            "new contributor"
        ) from exc


def save_identity(work_dir: Path, identity: Identity) -> None:
    """Write the identity atomically, readable by this user only."""
    work_dir.mkdir(parents=True, exist_ok=True)
    path = identity_path(work_dir)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"contributor_id": identity.contributor_id, "secret": identity.secret}, f)
        f.write("\n")
    os.chmod(tmp, 0o600)  # an existing tmp file keeps its old mode through O_CREAT
    os.replace(tmp, path)
