"""`SubprocessRunner`: the harness in a plain subprocess, for ``--insecure-dev`` only.

No namespaces, no cgroup, no seccomp: the script runs as the agent's user and can
read whatever that user can read and reach the network.  What it does keep is the
harness protocol (same framing, same error types), rlimits applied by the harness
to itself, the wall-clock timeout, cancel, the output and log caps, a private
temporary working directory, and killing the process group — plus every descendant
the process-tree sampler saw — after the run.  A process that double-forks and
calls setsid between two samples can escape that kill; only the cgroup of the real
`Sandbox` closes that gap.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import psutil

from runsurge.sandbox import harness, rlimits
from runsurge.sandbox.channels import HarnessChannels, config_fd, session_harness_args
from runsurge.sandbox.classify import Observation, build_outcome
from runsurge.sandbox.framing import FrameReader, LogCapture, new_nonce
from runsurge.sandbox.monitor import ProcessTreeUsage, UsageMonitor, UsageSource
from runsurge.sandbox.outcome import Outcome, OutcomeKind, ScriptError
from runsurge.sandbox.policy import SandboxPolicy
from runsurge.sandbox.runner import Entrypoint, RunRequest, WarmSession
from runsurge.sandbox.runtime import current_runtime
from runsurge.sandbox.session import HarnessSession, UnstartedSession, control_socketpair
from runsurge.sandbox.supervise import Child, Streams, drain, process_group_alive, supervise

ISOLATION_LEVEL = "none (insecure dev)"
_DIAGNOSTICS_LIMIT = 64 * 1024


class SubprocessRunner:
    """Runs the harness directly; every run still gets limits, caps and clean-up."""

    def __init__(self, python: Path | None = None) -> None:
        self._python = python or current_runtime().executable
        self._harness = Path(harness.__file__)

    @property
    def isolation_level(self) -> str:
        """Always "none (insecure dev)"."""
        return ISOLATION_LEVEL

    def run(self, request: RunRequest, cancel: threading.Event | None = None) -> Outcome:
        """Run one task; never leaves its process group or work directory behind."""
        nonce = new_nonce()
        try:
            channels = HarnessChannels.open(request.input)
        except OSError as exc:
            return _infrastructure(f"cannot open the input: {exc}")
        workdir = Path(tempfile.mkdtemp(prefix="runsurge-dev-"))
        try:
            return self._run(request, channels, nonce, workdir, cancel)
        finally:
            channels.close_all()
            shutil.rmtree(workdir, ignore_errors=True)

    def open_session(
        self, script: Path, entrypoint: Entrypoint, policy: SandboxPolicy, label: str = ""
    ) -> WarmSession:
        """A warm session in one harness process, with a private temporary work dir."""
        mine, theirs = control_socketpair()
        nproc_base = _nproc_base()
        spec = rlimits.harness_spec(rlimits.limits_for(policy, nproc=_nproc(nproc_base, policy)))
        workdir = Path(tempfile.mkdtemp(prefix="runsurge-dev-"))
        args = session_harness_args(
            theirs.fileno(), str(script.resolve()), entrypoint, spec, (str(workdir),)
        )
        diag_read, diag_write = os.pipe()
        config = config_fd(args)
        try:
            process = self._popen_harness(config, workdir, diag_write, (theirs.fileno(),))
        except OSError as exc:
            os.close(diag_read)
            mine.close()
            shutil.rmtree(workdir, ignore_errors=True)
            return UnstartedSession(f"cannot start the harness: {exc}")
        finally:
            os.close(diag_write)
            os.close(config)
            theirs.close()
        host = _SubprocessSessionHost(Child(process), diag_read, workdir, nproc_base)
        return HarnessSession(host, mine, policy)

    def _spawn(
        self, request: RunRequest, channels: HarnessChannels, workdir: Path, diag_write: int
    ) -> subprocess.Popen[bytes]:
        limits = rlimits.limits_for(request.policy, nproc=_nproc_limit(request))
        spec = rlimits.harness_spec(limits)
        config = config_fd(
            channels.harness_args(request, str(request.script.resolve()), rlimits=spec)
        )
        try:
            return self._popen_harness(config, workdir, diag_write, channels.child_fds)
        finally:
            os.close(config)

    def _popen_harness(
        self, config: int, workdir: Path, diag_write: int, fds: tuple[int, ...]
    ) -> subprocess.Popen[bytes]:
        """The harness, reading its settings from `config`, in its own session."""
        return subprocess.Popen(
            [str(self._python), "-I", "-S", str(self._harness), f"config={config}"],
            cwd=workdir,
            env=_environment(workdir),
            stdin=subprocess.DEVNULL,
            stdout=diag_write,
            stderr=diag_write,
            pass_fds=(*fds, config),
            start_new_session=True,
        )

    def _run(
        self,
        request: RunRequest,
        channels: HarnessChannels,
        nonce: bytes,
        workdir: Path,
        cancel: threading.Event | None,
    ) -> Outcome:
        policy = request.policy
        diag_read, diag_write = os.pipe()
        try:
            process = self._spawn(request, channels, workdir, diag_write)
        except OSError as exc:
            os.close(diag_read)
            return _infrastructure(f"cannot start the harness: {exc}")
        finally:
            os.close(diag_write)
        started = time.monotonic()
        channels.close_child_ends()
        channels.send_nonce(nonce)
        child = Child(process)
        tree = ProcessTreeUsage(process.pid)
        monitor = UsageMonitor(tree, live=request.live)
        monitor.start(started)
        streams = Streams(
            result_fd=channels.result_read,
            reader=FrameReader(nonce, policy.max_output_bytes),
            log_fd=channels.log_read,
            logs=LogCapture(policy.max_log_bytes),
            diag_fd=diag_read,
            diagnostics=LogCapture(_DIAGNOSTICS_LIMIT),
            feed=channels.feed,
        )
        try:
            stop = supervise(child, streams, monitor, policy, cancel, started)
            stopped = time.monotonic()
            monitor.sample(stopped)  # remember the latest descendants before killing
        finally:
            leftovers = _kill_everything(process.pid, tree.seen())
            child.wait(5.0)
            drain(streams)
            os.close(diag_read)
        usage = monitor.finish(stopped, child.exit.cpu_seconds if child.exit else None)
        observation = Observation(
            stop=stop,
            report=streams.reader.report,
            policy=policy,
            usage=usage,
            exit_returncode=child.exit.returncode if child.exit else None,
            diagnostics=streams.diagnostics.value().decode(errors="replace")
            if streams.diagnostics
            else "",
        )
        return build_outcome(observation, streams.logs.value(), streams.logs.truncated, leftovers)


def _environment(workdir: Path) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(workdir),
        "TMPDIR": str(workdir),
        "LANG": "C.UTF-8",
    }


def _nproc_base() -> int | None:
    """How many processes the user already has (None for root: NPROC is not enforced)."""
    if os.geteuid() == 0:
        return None
    uid = os.getuid()
    return sum(
        1 for p in psutil.process_iter(["uids"]) if p.info["uids"] and p.info["uids"].real == uid
    )


def _nproc(base: int | None, policy: SandboxPolicy) -> int | None:
    return None if base is None else base + policy.pids


class _SubprocessSessionHost:
    """A warm session's harness process and its temporary work dir."""

    def __init__(self, child: Child, diag_fd: int, workdir: Path, nproc_base: int | None) -> None:
        self._child = child
        self._diag_fd = diag_fd
        self._workdir = workdir
        self._nproc_base = nproc_base
        self._trees: list[ProcessTreeUsage] = []
        self._torn_down = False

    @property
    def child(self) -> Child:
        """The harness's reporter."""
        return self._child

    @property
    def diag_fd(self) -> int:
        """The reporter's stderr."""
        return self._diag_fd

    def rlimits_for(self, policy: SandboxPolicy) -> str:
        """NPROC counts the user's other processes too: leave room for them."""
        limits = rlimits.limits_for(policy, nproc=_nproc(self._nproc_base, policy))
        return rlimits.harness_spec(limits)

    def usage_source(self) -> UsageSource:
        """The process tree; every tree is kept so that the kill reaches what it saw."""
        tree = ProcessTreeUsage(self._child.pid)
        self._trees.append(tree)
        return tree

    def before_input(self) -> bool:
        """No kernel peak to restart."""
        return False

    def oom_kills(self) -> int:
        """No cgroup: OOM is seen only as the script's MemoryError."""
        return 0

    def pause(self) -> None:
        """No freezer without a cgroup: idle CPU is charged to the next input instead."""

    def resume(self) -> None:
        """Nothing was paused."""

    def kill_all(self) -> None:
        """SIGKILL the process group and every process seen."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._child.pid, signal.SIGKILL)
        self._child.wait(5.0)

    def teardown(self) -> tuple[str, ...]:
        """Kill, verify, remove the work dir."""
        if self._torn_down:
            return ()
        self._torn_down = True
        seen = [proc for tree in self._trees for proc in tree.seen()]
        leftovers = _kill_everything(self._child.pid, seen)
        self._child.wait(5.0)
        os.close(self._diag_fd)
        shutil.rmtree(self._workdir, ignore_errors=True)
        if self._workdir.exists():
            leftovers += (f"work dir {self._workdir} could not be removed",)
        return leftovers


def _nproc_limit(request: RunRequest) -> int | None:
    """RLIMIT_NPROC counts all of the user's processes; leave room for the existing ones."""
    if os.geteuid() == 0:
        return None  # not enforced for root anyway
    uid = os.getuid()
    mine = sum(
        1 for p in psutil.process_iter(["uids"]) if p.info["uids"] and p.info["uids"].real == uid
    )
    return mine + request.policy.pids


def _kill_everything(pgid: int, seen: list[psutil.Process]) -> tuple[str, ...]:
    """SIGKILL the process group and every descendant seen; report survivors."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    for proc in seen:
        with contextlib.suppress(psutil.Error):
            proc.kill()  # psutil refuses if the PID now belongs to another process
    alive: list[psutil.Process] = []
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        alive = [proc for proc in seen if _alive(proc)]
        if not alive and not process_group_alive(pgid):
            return ()
        time.sleep(0.005)
    survivors = [f"process {proc.pid} survived SIGKILL" for proc in alive]
    if process_group_alive(pgid):
        survivors.append(f"process group {pgid} still has members")
    return tuple(survivors)


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _infrastructure(message: str) -> Outcome:
    return Outcome(
        kind=OutcomeKind.INFRASTRUCTURE,
        error=ScriptError(type="SandboxStartFailed", message=message),
    )
