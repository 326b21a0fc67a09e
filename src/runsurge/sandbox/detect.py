"""Which isolation layers work on this host, and the runner the agent should use.

Detection *tries* each layer rather than reading version numbers: a task cgroup is
created, limited and removed; a trivial script runs through bubblewrap with and
without the seccomp filter.  It takes well under a second and caches nothing, so a
restarted agent always re-checks the host it is on.

The minimum for untrusted work is bubblewrap's namespaces, a cgroup that limits
memory and PIDs, and the seccomp filter (without it a task reaches the whole kernel
surface, and nothing stops an exec of a binary it wrote).  Below it `create_runner`
refuses (`SandboxUnavailable`) unless the agent was started with ``--insecure-dev``,
in which case it returns the `SubprocessRunner` and logs a loud warning.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from runsurge.errors import SandboxUnavailable
from runsurge.sandbox import bwrap, seccomp
from runsurge.sandbox.cgroups import CgroupError, CgroupHost, find_cgroup_host
from runsurge.sandbox.outcome import OutcomeKind
from runsurge.sandbox.policy import MiB, SandboxPolicy
from runsurge.sandbox.runner import RunRequest, TaskRunner
from runsurge.sandbox.sandbox import Sandbox, SandboxConfig
from runsurge.sandbox.subprocess_runner import ISOLATION_LEVEL as INSECURE_LEVEL
from runsurge.sandbox.subprocess_runner import SubprocessRunner

log = logging.getLogger(__name__)

BWRAP, CGROUPS, SECCOMP = "bubblewrap", "cgroups", "seccomp"
PROBE_POLICY = SandboxPolicy(
    memory_bytes=64 * MiB, pids=16, cpu_seconds=5, wall_seconds=5, workdir_bytes=MiB
)
_PROBE_SCRIPT = "def process(data):\n    return {'echo': data}\n"


@dataclass(frozen=True)
class LayerStatus:
    """One layer's probe result."""

    name: str
    available: bool
    detail: str  # what was found, or why it does not work


@dataclass(frozen=True)
class IsolationReport:
    """What this host supports, and what the agent reports to the coordinator."""

    layers: tuple[LayerStatus, ...]
    isolation_level: str
    meets_minimum: bool

    def layer(self, name: str) -> LayerStatus:
        """The status of one layer by name."""
        for status in self.layers:
            if status.name == name:
                return status
        raise KeyError(name)

    def missing_minimum(self) -> list[LayerStatus]:
        """The minimum layers that are not available."""
        minimum = (BWRAP, CGROUPS, SECCOMP)
        return [self.layer(name) for name in minimum if not self.layer(name).available]


def detect_isolation(config: SandboxConfig | None = None) -> IsolationReport:
    """Probe every layer on this host, now."""
    config = config or SandboxConfig()
    cgroup_status, cgroup_host = _probe_cgroups()
    seccomp_status = _probe_seccomp_build()
    bwrap_status = _probe_sandbox(replace(config, use_cgroups=False, use_seccomp=False), None)
    if bwrap_status.available and seccomp_status.available:
        loaded = _probe_sandbox(replace(config, use_cgroups=False, use_seccomp=True), None)
        if not loaded.available:
            seccomp_status = LayerStatus(SECCOMP, False, f"filter does not load: {loaded.detail}")
    if bwrap_status.available and cgroup_host is not None:
        combined = _probe_sandbox(replace(config, use_seccomp=False), cgroup_host)
        if not combined.available:
            cgroup_status = LayerStatus(
                CGROUPS, False, f"not usable with bubblewrap: {combined.detail}"
            )
    layers = (bwrap_status, cgroup_status, seccomp_status)
    meets = all(layer.available for layer in layers)
    if meets:
        cgroup = f"cgroup-{cgroup_host.version}" if cgroup_host else CGROUPS
        level = "+".join((BWRAP, cgroup, "rlimits", SECCOMP))
    else:
        level = INSECURE_LEVEL
    return IsolationReport(layers, level, meets)


def _probe_cgroups() -> tuple[LayerStatus, CgroupHost | None]:
    try:
        host = find_cgroup_host()
        task = host.create(PROBE_POLICY)
    except (CgroupError, OSError) as exc:
        return LayerStatus(CGROUPS, False, str(exc)), None
    problems = task.remove()
    if problems:
        return LayerStatus(CGROUPS, False, "; ".join(problems)), None
    return LayerStatus(CGROUPS, True, f"{task.description.rsplit('/', 1)[0]} (memory, pids)"), host


def _probe_seccomp_build() -> LayerStatus:
    try:
        program = seccomp.bpf_program()
    except (ImportError, OSError, RuntimeError) as exc:
        return LayerStatus(SECCOMP, False, f"cannot build the filter: {exc}")
    return LayerStatus(SECCOMP, True, f"{len(program) // 8} BPF instructions")


def _probe_sandbox(config: SandboxConfig, cgroups: CgroupHost | None) -> LayerStatus:
    """Run a trivial task; OK proves the layers in `config` work together."""
    if bwrap.bwrap_path() is None and config.bwrap_path is None:
        return LayerStatus(BWRAP, False, "bwrap is not installed")
    try:
        sandbox = Sandbox(config, cgroups=cgroups)
    except (OSError, ValueError, CgroupError) as exc:
        return LayerStatus(BWRAP, False, str(exc))
    with tempfile.TemporaryDirectory(prefix="runsurge-probe-") as tmp:
        script, data = Path(tmp) / "probe.py", Path(tmp) / "input.txt"
        script.write_text(_PROBE_SCRIPT)
        data.write_text("probe")
        outcome = sandbox.run(RunRequest(script, data, PROBE_POLICY, label="isolation probe"))
    if outcome.kind is OutcomeKind.OK and outcome.result_json == b'{"echo":"probe"}':
        return LayerStatus(BWRAP, True, sandbox.isolation_level)
    detail = outcome.error.message if outcome.error else outcome.kind.value
    return LayerStatus(BWRAP, False, detail)


def create_runner(insecure_dev: bool, config: SandboxConfig | None = None) -> TaskRunner:
    """The runner for this host: the full Sandbox, or SubprocessRunner in insecure dev mode."""
    report = detect_isolation(config)
    if report.meets_minimum:
        return Sandbox(replace(config or SandboxConfig(), use_seccomp=True))
    reasons = "; ".join(f"{s.name}: {s.detail}" for s in report.missing_minimum())
    if not insecure_dev:
        raise SandboxUnavailable(
            f"this host lacks the minimum isolation for untrusted work ({reasons}); "
            "fix it, or start with --insecure-dev on a machine that runs only your own code"
        )
    log.warning(
        "INSECURE DEVELOPMENT MODE: tasks run as plain subprocesses with NO sandbox "
        "(no namespaces, no cgroup, no seccomp); scripts can read your files and use the "
        "network. Missing layers: %s",
        reasons,
    )
    return SubprocessRunner()
