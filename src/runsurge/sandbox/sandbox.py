"""`Sandbox`: the production TaskRunner (bubblewrap + cgroup + rlimits + seccomp).

A run has three steps, each in its own module, so that the warm mode
(`open_session`: one sandbox importing a script once, then processing several
inputs; ``session.py``) is a loop over the same steps rather than a rewrite:

* spawn the sandbox — ``launch.py`` (bubblewrap, cgroup, rlimits, seccomp);
* talk to the harness — ``channels.py`` / ``framing.py`` / ``supervise.py``;
* collect usage and decide the outcome — ``monitor.py`` / ``classify.py``.
"""

from __future__ import annotations

import importlib.util
import logging
import marshal
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from runsurge.sandbox import bwrap, harness
from runsurge.sandbox.bwrap import Launcher
from runsurge.sandbox.cgroups import CgroupHost, find_cgroup_host
from runsurge.sandbox.channels import HarnessChannels, session_harness_args
from runsurge.sandbox.classify import outcome_of
from runsurge.sandbox.framing import FrameReader, LogCapture, new_nonce
from runsurge.sandbox.launch import (
    LaunchedSandbox,
    SandboxLauncher,
    SandboxStartError,
    rlimits_spec,
)
from runsurge.sandbox.monitor import CgroupUsage, ProcessTreeUsage, UsageMonitor, UsageSource
from runsurge.sandbox.outcome import Outcome, OutcomeKind, ScriptError
from runsurge.sandbox.policy import SandboxPolicy
from runsurge.sandbox.runner import Entrypoint, RunRequest, WarmSession
from runsurge.sandbox.runtime import PythonRuntime, current_runtime
from runsurge.sandbox.session import HarnessSession, UnstartedSession, control_socketpair
from runsurge.sandbox.stage import DEFAULT_STAGE_ROOT, stage_runtime
from runsurge.sandbox.supervise import Child, StopReason, Streams, drain, supervise
from runsurge.sandbox.uids import DEFAULT_SANDBOX_UIDS, UidPool

log = logging.getLogger(__name__)

DEFAULT_MOUNT_POINT = Path("/run/runsurge-sandbox/python")
DIAGNOSTICS_LIMIT = 64 * 1024
GRACEFUL_EXIT_SECONDS = 0.05


@dataclass(frozen=True)
class SandboxConfig:
    """Host-specific choices; the defaults suit a root agent on a typical Linux host."""

    bwrap_path: str | None = None  # None: find it on PATH
    runtime: PythonRuntime | None = None  # None: the interpreter the agent runs on
    use_cgroups: bool = True
    use_seccomp: bool = True
    # Host uids bubblewrap runs as when the agent is root: one per running sandbox.
    sandbox_uids: range = DEFAULT_SANDBOX_UIDS
    mount_point: Path = DEFAULT_MOUNT_POINT  # where the prefix is bound in the private namespace
    # Root agents bind a staged copy of the interpreter from here (``stage.py``), so that
    # mountinfo shows no host path; None binds the prefix itself, whose path then shows.
    runtime_stage: Path | None = DEFAULT_STAGE_ROOT


class Sandbox:
    """Runs each task in a fresh bubblewrap sandbox under a task cgroup and seccomp."""

    def __init__(
        self, config: SandboxConfig | None = None, cgroups: CgroupHost | None = None
    ) -> None:
        config = config or SandboxConfig()
        bwrap_path = config.bwrap_path or bwrap.bwrap_path()
        if bwrap_path is None:
            raise FileNotFoundError("bubblewrap (bwrap) is not installed")
        runtime = config.runtime or current_runtime()
        if os.geteuid() == 0 and config.runtime_stage is not None:
            runtime = stage_runtime(runtime, config.runtime_stage)
        if config.use_cgroups and cgroups is None:
            cgroups = find_cgroup_host()
        self._cgroups = cgroups if config.use_cgroups else None
        launcher = _launcher_for(bwrap_path, runtime, config)
        self._uids = UidPool(config.sandbox_uids) if launcher.drops_privileges else None
        self._launch = SandboxLauncher(
            launcher=launcher,
            runtime=runtime,
            harness=harness_program(runtime),
            cgroups=self._cgroups,
            use_seccomp=config.use_seccomp,
            uids=self._uids,
        )
        layers = ["bubblewrap"]
        if self._cgroups is not None:
            layers.append(f"cgroup-{self._cgroups.version}")
        layers.append("rlimits")
        if config.use_seccomp:
            layers.append("seccomp")
        self._isolation_level = "+".join(layers)

    @property
    def uid_range(self) -> range | None:
        """The host uids sandboxes run as (one each), or None when the agent is not root."""
        return self._uids.uids if self._uids is not None else None

    @property
    def isolation_level(self) -> str:
        """e.g. "bubblewrap+cgroup-v1+rlimits+seccomp"."""
        return self._isolation_level

    def run(self, request: RunRequest, cancel: threading.Event | None = None) -> Outcome:
        """Run one task to completion, cancel or limit; always clean up."""
        nonce = new_nonce()
        try:
            channels = HarnessChannels.open(request.input)
        except OSError as exc:
            return _infrastructure(f"cannot open the input: {exc}")
        try:
            try:
                launched = self._launch.start(request, channels, nonce)
            except SandboxStartError as exc:
                return _infrastructure(str(exc))
            return self._supervise(request, channels, launched, nonce, cancel)
        finally:
            channels.close_all()

    def open_session(
        self, script: Path, entrypoint: Entrypoint, policy: SandboxPolicy, label: str = ""
    ) -> WarmSession:
        """A warm session: one sandbox sized by `policy`, the script imported on the first run."""
        mine, theirs = control_socketpair()
        args = session_harness_args(
            theirs.fileno(),
            bwrap.SCRIPT_INSIDE,
            entrypoint,
            rlimits_spec(policy),
            workdirs=(bwrap.WORK_INSIDE, "/dev/shm"),
        )
        try:
            launched = self._launch.start_session(script, policy, args, theirs, label)
        except SandboxStartError as exc:
            mine.close()
            theirs.close()
            return UnstartedSession(str(exc))
        return HarnessSession(_SandboxSessionHost(launched), mine, policy)

    def _supervise(
        self,
        request: RunRequest,
        channels: HarnessChannels,
        launched: LaunchedSandbox,
        nonce: bytes,
        cancel: threading.Event | None,
    ) -> Outcome:
        policy = request.policy
        source: UsageSource = (
            CgroupUsage(launched.cgroup)
            if launched.cgroup
            else ProcessTreeUsage(launched.child.pid)
        )
        monitor = UsageMonitor(source, live=request.live)
        monitor.start(launched.started)
        streams = Streams(
            result_fd=channels.result_read,
            reader=FrameReader(nonce, policy.max_output_bytes),
            log_fd=channels.log_read,
            logs=LogCapture(policy.max_log_bytes),
            diag_fd=launched.diag_fd,
            diagnostics=LogCapture(DIAGNOSTICS_LIMIT),
            feed=channels.feed,
        )
        leftovers: list[str] = []
        try:
            stop = supervise(launched.child, streams, monitor, policy, cancel, launched.started)
            stopped = time.monotonic()
            if stop is StopReason.REPORTED:
                # The harness exits right after its last frame; letting PID 1 end on its
                # own tears the namespace down faster than killing the cgroup does.
                launched.child.wait(GRACEFUL_EXIT_SECONDS)
            launched.kill_all()
            launched.child.wait(5.0)
            drain(streams)
            oom_kills = launched.cgroup.oom_kills() if launched.cgroup else 0
            exit_info = launched.child.exit
            usage = monitor.finish(stopped, exit_info.cpu_seconds if exit_info else None)
        finally:
            leftovers = launched.teardown()
        if leftovers:
            log.error("sandbox clean-up incomplete for %s: %s", request.label, "; ".join(leftovers))
        return outcome_of(
            stop,
            streams,
            policy,
            usage,
            oom_kills,
            exit_info.returncode if exit_info else None,
            tuple(leftovers),
        )


class _SandboxSessionHost:
    """A warm session's bubblewrap sandbox, seen through `SessionHost`."""

    def __init__(self, launched: LaunchedSandbox) -> None:
        self._launched = launched

    @property
    def child(self) -> Child:
        """bubblewrap."""
        return self._launched.child

    @property
    def diag_fd(self) -> int:
        """bubblewrap's and the reporter's stderr."""
        return self._launched.diag_fd

    def rlimits_for(self, policy: SandboxPolicy) -> str:
        """As a cold run's: NPROC counts only the sandbox's user namespace."""
        return rlimits_spec(policy)

    def usage_source(self) -> UsageSource:
        """The session cgroup, else the process tree under bubblewrap."""
        cgroup = self._launched.cgroup
        return CgroupUsage(cgroup) if cgroup else ProcessTreeUsage(self.child.pid)

    def before_input(self) -> bool:
        """Restart the cgroup's memory peak (v1, and v2 on Linux 6.12+); False if it cannot."""
        cgroup = self._launched.cgroup
        return cgroup.reset_peak_memory() if cgroup else False

    def oom_kills(self) -> int:
        """The cgroup's OOM-kill counter."""
        cgroup = self._launched.cgroup
        return cgroup.oom_kills() if cgroup else 0

    def pause(self) -> None:
        """Freeze the session cgroup between inputs (no freezer here: it keeps running)."""
        if self._launched.cgroup is not None:
            self._launched.cgroup.freeze()

    def resume(self) -> None:
        """Thaw it for the next input."""
        if self._launched.cgroup is not None:
            self._launched.cgroup.thaw()

    def kill_all(self) -> None:
        """SIGKILL the cgroup and process group, reap bubblewrap."""
        self._launched.kill_all()
        self._launched.child.wait(5.0)

    def teardown(self) -> tuple[str, ...]:
        """As after a cold run: kill, reap, remove the cgroup, verify."""
        return tuple(self._launched.teardown())


def harness_program(runtime: PythonRuntime) -> tuple[bytes, str]:
    """The harness as (file content, path inside the sandbox).

    Compiled here once, when the sandbox runs the agent's own Python version: a file
    run as ``__main__`` is never cached, so shipping source costs a ~4 ms compile per
    task.  The 16-byte header is what CPython's ``run_pyc_file`` skips; it checks only
    the magic number.
    """
    source = Path(harness.__file__).read_bytes()
    if not runtime.is_agent_interpreter:
        return source, bwrap.HARNESS_INSIDE
    code = compile(source, bwrap.HARNESS_INSIDE, "exec", dont_inherit=True)
    header = importlib.util.MAGIC_NUMBER + bytes(12)
    return header + marshal.dumps(code), bwrap.HARNESS_PYC_INSIDE


def _launcher_for(bwrap_path: str, runtime: PythonRuntime, config: SandboxConfig) -> Launcher:
    """Root agents drop to the sandbox uid through a private mount namespace."""
    if os.geteuid() != 0:
        return Launcher(bwrap=bwrap_path, prefix_source=str(runtime.prefix))
    config.mount_point.mkdir(parents=True, exist_ok=True, mode=0o755)
    for directory in (config.mount_point, *config.mount_point.parents):
        if directory == Path("/"):
            break
        if directory.stat().st_mode & 0o005 != 0o005:
            raise PermissionError(f"{directory} must be world-readable and searchable")
    return Launcher(
        bwrap=bwrap_path,
        prefix_source=str(config.mount_point),
        drops_privileges=True,
        mount_point=str(config.mount_point),
    )


def _infrastructure(message: str) -> Outcome:
    return Outcome(
        kind=OutcomeKind.INFRASTRUCTURE,
        error=ScriptError(type="SandboxStartFailed", message=message),
    )
