"""Settings, one pydantic-settings class per role, read once at start-up and passed down.

Precedence is flags, then environment (`RUNSURGE_…`), then the client config file
written by `runsurge up`, then defaults. No other module reads the environment.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from runsurge.errors import ConfigError
from runsurge.sandbox.policy import SandboxPolicy

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*$", re.I)
_UNITS = {"": 1, "b": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4}


def parse_size(text: str | int) -> int:
    """Parse '512MiB', '2G', '1.5GiB', '1000000' into bytes; binary units for 'i' forms."""
    if isinstance(text, int):
        return text
    match = _SIZE.match(text)
    if not match:
        raise ConfigError(f"not a size: {text!r} (try 512MiB, 2GiB or a number of bytes)")
    number, unit = float(match.group(1)), (match.group(2) or "").lower()
    base = unit[:1]
    factor = 1024 ** "bkmgt".index(base) if "i" in unit else _UNITS[base]
    return int(number * factor)


def format_size(n: int) -> str:
    """Bytes as a short human string (binary units)."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def default_home() -> Path:
    """Where RunSurge keeps per-user state (~/.runsurge unless RUNSURGE_HOME is set)."""
    return Path(os.environ.get("RUNSURGE_HOME", Path.home() / ".runsurge"))


class CoordinatorSettings(BaseSettings):
    """How a coordinator listens, stores, schedules and times out."""

    model_config = SettingsConfigDict(env_prefix="RUNSURGE_COORDINATOR_")

    listen: str = "127.0.0.1:7070"
    data_dir: Path = Field(default_factory=lambda: default_home() / "coordinator")
    db_url: str = ""  # empty: SQLite in data_dir
    heartbeat_interval_seconds: float = 2.0
    lease_seconds: float = 10.0
    max_attempts: int = 3
    # The sandbox limits every task gets (memory until the estimator refines it).
    task_memory_bytes: int = 512 * 1024 * 1024
    task_wall_seconds: float = 900.0
    task_cpu_seconds: float = 600.0
    task_pids: int = 64
    task_max_output_bytes: int = 64 * 1024 * 1024
    task_max_log_bytes: int = 1024 * 1024
    task_workdir_bytes: int = 64 * 1024 * 1024
    inline_result_limit: int = 64 * 1024
    max_script_bytes: int = 1024 * 1024
    max_input_bytes: int = 1024 * 1024 * 1024
    # Development and testing only: accept scripts without the Semgrep gate (the sandbox
    # is then the only defence). Logged loudly at start-up.
    skip_scan: bool = False
    semgrep_core: Path | None = None  # default: the binary shipped in the semgrep wheel

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, value: str) -> str:
        if ":" not in value:
            raise ValueError("listen must be HOST:PORT")
        return value

    def default_policy(self, memory_bytes: int | None = None) -> SandboxPolicy:
        """The limits a task gets unless the estimator says otherwise."""
        return SandboxPolicy(
            memory_bytes=memory_bytes or self.task_memory_bytes,
            pids=self.task_pids,
            cpu_seconds=self.task_cpu_seconds,
            wall_seconds=self.task_wall_seconds,
            max_output_bytes=self.task_max_output_bytes,
            max_log_bytes=self.task_max_log_bytes,
            workdir_bytes=self.task_workdir_bytes,
        )


class ContributorSettings(BaseSettings):
    """How a contributor agent reaches the coordinator and what it offers."""

    model_config = SettingsConfigDict(env_prefix="RUNSURGE_CONTRIBUTOR_")

    coordinator: str = "127.0.0.1:7070"
    token: str = ""
    name: str = Field(default_factory=lambda: os.uname().nodename)
    cores: int = Field(default_factory=lambda: os.cpu_count() or 1)
    memory_bytes: int = 0  # 0: half the machine's RAM
    work_dir: Path = Field(default_factory=lambda: default_home() / "contributor")
    insecure_dev: bool = False
    reconnect_max_seconds: float = 10.0
    inline_result_limit: int = 256 * 1024


class ClientSettings(BaseSettings):
    """Where the consumer's coordinator is and which token to present."""

    model_config = SettingsConfigDict(env_prefix="RUNSURGE_")

    coordinator: str = ""
    token: str = ""
    config: Path = Field(default_factory=lambda: default_home() / "client.json")

    def resolved(self) -> ClientSettings:
        """Fill what flags and environment left empty from the config file."""
        if self.coordinator and self.token:
            return self
        saved = read_client_config(self.config)
        return self.model_copy(
            update={
                "coordinator": self.coordinator or saved.get("coordinator", ""),
                "token": self.token or saved.get("token", ""),
            }
        )


def read_client_config(path: Path) -> dict[str, str]:
    """The client config file as a dict; empty when it does not exist."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read client config {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"client config {path} is not a JSON object")
    return {str(k): str(v) for k, v in data.items()}


def write_client_config(path: Path, coordinator: str, token: str) -> None:
    """Save the address and token so that later commands find the coordinator."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"coordinator": coordinator, "token": token}, f, indent=2)
    os.replace(tmp, path)
