"""Settings, one pydantic-settings class per role, read once at start-up and passed down.

Every role resolves a setting the same way: the flag, if it was given; else the
environment (`RUNSURGE_…`, see `env_var`); else, for the client only, the config file
`runsurge up` writes; else the default declared here. `load_settings` applies it. No
other module reads the environment. docs/operations.md lists every variable.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import BeforeValidator, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from runsurge.billing.pricing import (
    DEFAULT_PLATFORM_FEE_SHARE,
    DEFAULT_PRICE_PER_MB_SECOND,
    DEFAULT_QUOTE_TASK_SECONDS,
    Pricing,
)
from runsurge.billing.terms import Billing, SpendingRules
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


_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_seconds(text: str | float) -> float:
    """'90s', '30m', '12h', '7d' (or plain seconds) as a positive number of seconds."""
    if isinstance(text, int | float):
        if text > 0:
            return float(text)
        raise ConfigError(f"not a duration: {text!r} (must be positive)")
    match = _DURATION.fullmatch(text)
    if match is None or float(match.group(1)) <= 0:
        raise ConfigError(f"not a duration: {text!r} (use e.g. 90s, 30m, 12h, 7d)")
    return float(match.group(1)) * _DURATION_UNITS[match.group(2) or "s"]


def format_size(n: int) -> str:
    """Bytes as a short human string (binary units)."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _size(value: object) -> object:
    """Let a number of bytes be written as a size ('4GiB') wherever a setting is one."""
    if isinstance(value, str):
        try:
            return parse_size(value)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
    return value


Size = Annotated[int, BeforeValidator(_size)]
"""A number of bytes; from the environment or a flag it may be written '512MiB', '2GiB'."""

SettingsT = TypeVar("SettingsT", bound=BaseSettings)

# The sandbox limits have one source, SandboxPolicy's own defaults.
_POLICY = SandboxPolicy()


def default_home() -> Path:
    """Where RunSurge keeps per-user state (~/.runsurge unless RUNSURGE_HOME is set)."""
    return Path(os.environ.get("RUNSURGE_HOME", Path.home() / ".runsurge"))


class CoordinatorSettings(BaseSettings):
    """How a coordinator listens, stores, schedules and times out."""

    model_config = SettingsConfigDict(env_prefix="RUNSURGE_COORDINATOR_")

    listen: str = Field(default="127.0.0.1:7070", description="HOST:PORT to listen on.")
    tls_cert: Path | None = Field(
        default=None, description="PEM certificate (chain) of the coordinator; unset: plaintext."
    )
    tls_key: Path | None = Field(default=None, description="PEM private key of tls_cert.")
    tls_client_ca: Path | None = Field(
        default=None,
        description="PEM CA that signs contributor client certificates; set: contributors "
        "must present one, on contributor_listen.",
    )
    contributor_listen: str = Field(
        default="",
        description="HOST:PORT where contributors connect with a client certificate "
        "(mutual TLS); needed with tls_client_ca.",
    )
    allow_plaintext: bool = Field(
        default=False,
        description="Listen without TLS on an address that is not loopback (logged loudly).",
    )
    data_dir: Path = Field(
        default_factory=lambda: default_home() / "coordinator",
        description="State directory (database, blobs, tokens).",
    )
    db_url: str = Field(
        default="", description="Database URL; empty: SQLite in the data directory."
    )
    heartbeat_interval_seconds: float = Field(
        default=2.0, description="Heartbeat interval asked of agents."
    )
    lease_seconds: float = Field(
        default=10.0, description="Attempt lease: an agent silent this long has its tasks requeued."
    )
    # Agents reconnect with backoff up to their reconnect_max_seconds (10 s), jittered
    # by up to 1.5x: 15 s. A restart must not lose their attempts meanwhile.
    startup_grace_seconds: float = Field(
        default=25.0,
        description=(
            "After a start, attempts already running keep their lease this long "
            "(never less than one lease), so their agents can reconnect."
        ),
    )
    wall_slack_seconds: float = Field(
        default=120.0,
        description=(
            "Heartbeats renew an attempt's lease until its wall-clock limit plus this, "
            "counted from the claim (fetching, waiting for a slot, reporting)."
        ),
    )
    max_attempts: int = Field(
        default=3,
        description="Attempts a task gets before it fails; the most --max-attempts may ask.",
    )
    memory_growth_factor: float = Field(
        default=2.0,
        ge=1.1,
        le=16,
        description="A task killed for exceeding its memory is retried with the peak it "
        "reached times this (within the job's --memory and the largest contributor).",
    )
    # Quarantine (coordinator/quarantine.py): a contributor that keeps failing for
    # reasons that are not the script's, or keeps dropping out, gets no work for a while.
    quarantine_failures: int = Field(
        default=5,
        ge=1,
        description="Infrastructure failures (lost attempts, sandboxes that fail to start) "
        "in the failure window that quarantine a contributor.",
    )
    quarantine_failure_window_seconds: float = Field(
        default=600.0, gt=0, description="The window in which those failures are counted."
    )
    quarantine_flaps: int = Field(
        default=5,
        ge=1,
        description="Heartbeat flaps (went SUSPECT, or lost its stream without draining) "
        "in the flap window that quarantine a contributor.",
    )
    quarantine_flap_window_seconds: float = Field(
        default=600.0, gt=0, description="The window in which flaps are counted."
    )
    quarantine_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="How long a quarantine lasts; the contributor is then released.",
    )
    unplaceable_timeout_seconds: float = Field(
        default=600.0,
        description="A task larger than every connected contributor fails after this long.",
    )
    # The sandbox limits every task gets (memory until the estimator refines it).
    task_memory_bytes: Size = Field(
        default=_POLICY.memory_bytes, description="Memory limit of a task (the first attempt's)."
    )
    task_wall_seconds: float = Field(
        default=_POLICY.wall_seconds,
        description="Wall-clock limit of a task; the most a job's --wall-time may ask.",
    )
    task_cpu_seconds: float = Field(
        default=_POLICY.cpu_seconds,
        description="CPU-time limit of a task; the most a job's --cpu-time may ask.",
    )
    task_pids: int = Field(
        default=_POLICY.pids, description="Processes and threads a task may have."
    )
    task_max_output_bytes: Size = Field(
        default=_POLICY.max_output_bytes, description="Largest result a task may return."
    )
    task_max_log_bytes: Size = Field(
        default=_POLICY.max_log_bytes,
        description="Task output (stdout, stderr) kept for the consumer.",
    )
    task_workdir_bytes: Size = Field(
        default=_POLICY.workdir_bytes, description="Size of a task's private work directory."
    )
    inline_result_limit: Size = Field(
        default=64 * 1024, description="Results up to this size travel inside job replies."
    )
    max_script_bytes: Size = Field(default=1024 * 1024, description="Largest script accepted.")
    max_input_bytes: Size = Field(
        default=1024 * 1024 * 1024, description="Largest single input accepted."
    )
    max_group_inputs: int = Field(
        default=1_000_000, ge=1, description="Most inputs one group job may have."
    )
    max_active_jobs: int = Field(
        default=1000,
        ge=1,
        description="Most unfinished jobs (submitting, queued, running) one consumer may have.",
    )
    price_per_mb_second: Decimal = Field(
        default=DEFAULT_PRICE_PER_MB_SECOND,
        ge=0,
        description="Price of one MB (10^6 bytes) of average RAM for one second at "
        "machine factor 1.0, in currency units (docs/billing.md).",
    )
    platform_fee_share: Decimal = Field(
        default=DEFAULT_PLATFORM_FEE_SHARE,
        ge=0,
        le=1,
        description="Share of each charge the platform keeps; the contributor gets the rest.",
    )
    quote_task_seconds: float = Field(
        default=DEFAULT_QUOTE_TASK_SECONDS,
        gt=0,
        description="Seconds a task is assumed to run at its full reservation when a "
        "submission is quoted and held.",
    )
    billing_enforced: bool = Field(
        default=False,
        description="Refuse submissions quoted beyond a consumer's balance plus spending "
        "limit; off: every job is charged, none refused.",
    )
    default_spending_limit: Decimal = Field(
        default=Decimal(0),
        ge=0,
        description="How far below zero a consumer's balance may go, unless set per account.",
    )
    rate_limit_per_second: float = Field(
        default=100.0,
        ge=0,
        description="Requests per second each consumer token may make on average (0: no limit).",
    )
    rate_limit_burst: int = Field(
        default=200, ge=1, description="Requests a consumer token may make at once, above the rate."
    )
    submission_timeout_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="A job still uploading that receives no input for this long is failed "
        "(its upload never finished).",
    )
    # Development and testing only: accept scripts without the Semgrep gate (the sandbox
    # is then the only defence). Logged loudly at start-up.
    skip_scan: bool = Field(
        default=False,
        description="DEVELOPMENT/TESTING ONLY: accept scripts without the Semgrep security scan.",
    )
    semgrep_core: Path | None = Field(
        default=None,
        description="The semgrep-core binary; unset: the one shipped in the semgrep wheel.",
    )
    metrics_listen: str = Field(
        default="",
        description="HOST:PORT to serve Prometheus metrics on (/metrics); empty: off.",
    )
    sample_retention_rows: int = Field(
        default=1_000_000,
        gt=0,
        description="Node samples, and task samples, kept at most (the newest; per table).",
    )
    sample_retention_seconds: float = Field(
        default=86400.0, gt=0, description="Node and task samples older than this are deleted."
    )
    sample_prune_seconds: float = Field(
        default=60.0, gt=0, description="Interval of the loop that enforces the sample retention."
    )
    factor_unverified_cap: float = Field(
        default=2.0,
        gt=0,
        description="Highest machine factor paid before a contributor's tasks confirm its claim.",
    )
    factor_tolerance: float = Field(
        default=1.5,
        ge=1,
        description="A claim up to this times the observed speed ratio is paid as claimed; "
        "a higher one is flagged and paid at the observed ratio.",
    )
    factor_min_evidence: int = Field(
        default=5,
        ge=1,
        description="Comparable tasks (same script, similar input size, other nodes) before "
        "the observed speed decides a contributor's factor.",
    )
    factor_similar_size: float = Field(
        default=1.25, ge=1, description="Inputs within this size ratio count as comparable."
    )
    factor_verify_seconds: float = Field(
        default=60.0, gt=0, description="Interval of the loop that re-verifies machine factors."
    )

    @field_validator("listen", "metrics_listen", "contributor_listen")
    @classmethod
    def _check_listen(cls, value: str) -> str:
        if value and ":" not in value:
            raise ValueError("must be HOST:PORT")
        return value

    @model_validator(mode="after")
    def _check_tls(self) -> CoordinatorSettings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together: give both or none")
        if self.tls_client_ca is not None and self.tls_cert is None:
            raise ValueError("tls_client_ca needs tls_cert and tls_key (the coordinator's own)")
        if (self.tls_client_ca is None) != (not self.contributor_listen):
            raise ValueError(
                "tls_client_ca and contributor_listen go together: gRPC demands a client "
                "certificate from every caller of a port, so contributors get their own"
            )
        return self

    @property
    def billing(self) -> Billing:
        """Prices and spending rules (billing/charges.py)."""
        return Billing(
            Pricing(self.price_per_mb_second, self.platform_fee_share, self.quote_task_seconds),
            SpendingRules(self.billing_enforced, self.default_spending_limit),
        )

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

    coordinator: str = Field(default="127.0.0.1:7070", description="HOST:PORT of the coordinator.")
    token: str = Field(
        default="", description="Enrolment token (the coordinator's DATA_DIR/contributor.token)."
    )
    tls_ca: Path | None = Field(
        default=None,
        description="PEM CA that signed the coordinator's certificate; unset: plaintext.",
    )
    tls_cert: Path | None = Field(
        default=None, description="PEM client certificate, for a coordinator that demands one."
    )
    tls_key: Path | None = Field(default=None, description="PEM private key of tls_cert.")
    name: str = Field(
        default_factory=lambda: os.uname().nodename, description="Name shown to the coordinator."
    )
    cores: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        description="Tasks to run at once (at most the machine's cores).",
    )
    memory_bytes: Size = Field(
        default=0, description="Memory to offer, e.g. 4GiB (at most 90% of RAM); 0: half of RAM."
    )
    work_dir: Path = Field(
        default_factory=lambda: default_home() / "contributor",
        description="Where scripts and task files go.",
    )
    insecure_dev: bool = Field(
        default=False,
        description="DEVELOPMENT ONLY: run tasks without the full sandbox if the host lacks it.",
    )
    reconnect_max_seconds: float = Field(
        default=10.0, description="Longest wait between attempts to reach the coordinator."
    )
    drain_grace_seconds: float = Field(
        default=300.0,
        ge=0,
        description="After SIGTERM, how long running tasks may take to finish before they "
        "are handed back (a second SIGTERM hands them back at once).",
    )
    inline_result_limit: Size = Field(
        default=256 * 1024, description="Results up to this size are reported inline, not uploaded."
    )
    node_sample_seconds: float = Field(
        default=5.0,
        gt=0,
        description="Interval of the machine's CPU, memory, load and disk samples.",
    )
    task_sample_seconds: float = Field(
        default=1.0,
        gt=0,
        description="Interval of running tasks' CPU and memory samples (one batch each time).",
    )
    benchmark_seconds: float = Field(
        default=5.0,
        ge=0,
        description="Time budget of the machine benchmark run at start-up (billing/benchmark.py); "
        "0: no benchmark, the agent claims nothing and is paid the BASELINE factor 1.0.",
    )
    benchmark_interval_hours: float = Field(
        default=24.0,
        ge=0,
        description="Run the benchmark again this often and report it; 0: only at start-up.",
    )


class ClientSettings(BaseSettings):
    """Where the consumer's coordinator is and which token to present."""

    model_config = SettingsConfigDict(env_prefix="RUNSURGE_")

    coordinator: str = Field(
        default="", description="HOST:PORT of the coordinator; empty: the one in the config file."
    )
    token: str = Field(default="", description="Consumer token; empty: the one in the config file.")
    tls_ca: Path | None = Field(
        default=None,
        description="PEM CA that signed the coordinator's certificate; unset: the config "
        "file's, else plaintext.",
    )
    tls_cert: Path | None = Field(default=None, description="PEM client certificate (optional).")
    tls_key: Path | None = Field(default=None, description="PEM private key of tls_cert.")
    config: Path = Field(
        default_factory=lambda: default_home() / "client.json",
        description="The client config file, which `runsurge up` writes.",
    )

    def resolved(self) -> ClientSettings:
        """Fill what flags and environment left empty from the config file."""
        if self.coordinator and self.token:  # the file is not read: nothing comes from it
            return self
        saved = read_client_config(self.config)
        # The saved CA belongs to the saved coordinator: another address, another CA.
        same_place = not self.coordinator or self.coordinator == saved.get("coordinator")
        saved_ca = saved.get("tls_ca") if same_place else None
        return self.model_copy(
            update={
                "coordinator": self.coordinator or saved.get("coordinator", ""),
                "token": self.token or saved.get("token", ""),
                "tls_ca": self.tls_ca or (Path(saved_ca) if saved_ca else None),
            }
        )


def env_var(cls: type[BaseSettings], field: str) -> str:
    """The environment variable that sets `field` of `cls`, e.g. RUNSURGE_COORDINATOR_LISTEN."""
    if field not in cls.model_fields:
        raise KeyError(f"{cls.__name__} has no setting {field!r}")
    return f"{cls.model_config.get('env_prefix', '')}{field}".upper()


def load_settings(cls: type[SettingsT], flags: Mapping[str, Any] | None = None) -> SettingsT:
    """A role's settings: the flags given (None means not given), else environment, else default.

    A value that does not fit becomes a ConfigError naming the setting and its variable.
    """
    given = {name: value for name, value in (flags or {}).items() if value is not None}
    try:
        return cls(**given)
    except ValidationError as exc:
        raise ConfigError(_describe(cls, exc)) from None


def _describe(cls: type[BaseSettings], exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        source = (
            f"{field} (its flag or {env_var(cls, field)})" if field in cls.model_fields else field
        )
        cause = error.get("ctx", {}).get("error")
        reason = str(cause) if error["type"] == "value_error" and cause else error["msg"]
        if not field:  # a rule between settings: its input is all of them, tokens included
            problems.append(f"invalid settings: {reason}")
            continue
        secret = "token" in field or "url" in field  # a database URL may carry a password
        given = repr(error["input"])
        shown = "" if secret or given in reason else f", got {given}"
        problems.append(f"invalid setting {source}: {reason}{shown}")
    return "; ".join(problems)


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


def write_client_config(
    path: Path, coordinator: str, token: str, tls_ca: Path | None = None
) -> None:
    """Save the address, token (and CA) so that later commands find the coordinator."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    saved = {"coordinator": coordinator, "token": token}
    if tls_ca is not None:
        saved["tls_ca"] = str(tls_ca.resolve())
    with os.fdopen(fd, "w") as f:
        json.dump(saved, f, indent=2)
    os.replace(tmp, path)
