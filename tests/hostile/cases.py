"""The hostile corpus: one attack per script, its expected outcome, and host-side checks.

Reusable by any test that can run a script and get an `Outcome` (the sandbox
integration test today, the agent end-to-end test later): ``from tests.hostile.cases
import CASES, HostContext``.

Usage: build a `HostContext` (a canary file, a fake agent data dir with a token, a
listening port, a sentinel process), give every case ``ctx.input_text()`` as input,
``case.policy`` and ``ctx.label_for(case.name)`` as the request's label, then call
``case.verify(ctx, outcome)`` — or, where only the result JSON is at hand, ``case.check_result`` and
``case.check(ctx)``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import secrets
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from runsurge.sandbox.bwrap import HARNESS_INSIDE, HARNESS_PYC_INSIDE, PREFIX_INSIDE
from runsurge.sandbox.cgroups import TASK_PREFIX
from runsurge.sandbox.channels import label_tag
from runsurge.sandbox.outcome import Outcome, OutcomeKind
from runsurge.sandbox.policy import MiB, SandboxPolicy
from runsurge.sandbox.stage import DEFAULT_STAGE_ROOT

SCRIPTS = Path(__file__).resolve().parent / "scripts"
SECRET_ENV = {"RUNSURGE_TOKEN": "secret-agent-token-1234", "AWS_SECRET_ACCESS_KEY": "aws-secret"}
HOSTILE_POLICY = SandboxPolicy(
    memory_bytes=64 * MiB,
    pids=32,
    cpu_seconds=1.0,
    wall_seconds=2.0,
    max_output_bytes=1 * MiB,
    max_log_bytes=64 * 1024,
    workdir_bytes=16 * MiB,
)
ALLOWED_ENV_KEYS = {"PATH", "HOME", "TMPDIR", "LANG", "LD_LIBRARY_PATH", "PWD", "LC_CTYPE"}
SANDBOX_TOP_LEVEL = {"dev", "proc", "usr", "lib", "lib64", "work", "tmp", "task", "runsurge"}


@dataclass
class HostContext:
    """Things on the host that no sandboxed script may read, change or reach."""

    root: Path
    canary: Path
    canary_content: bytes
    agent_dir: Path
    token_file: Path
    token: bytes
    listener: socket.socket
    marker: str  # process name the daemon case gives itself (<= 15 chars)
    sentinel: subprocess.Popen[bytes] | None = None
    label: str = ""  # of the current run: scopes the leftover-process check to it

    def label_for(self, case_name: str) -> str:
        """A unique RunRequest.label for the next run; it names the run's task cgroup."""
        self.label = f"hostile-{case_name}-{secrets.token_hex(4)}"
        return self.label

    @classmethod
    def create(cls, root: Path) -> HostContext:
        """Plant the canary and the fake agent dir, listen on a port, start a sentinel."""
        private = root / "host-private"
        private.mkdir(mode=0o700)
        canary = private / "canary.txt"
        canary_content = b"CANARY-" + secrets.token_hex(8).encode()
        canary.write_bytes(canary_content)
        agent_dir = root / "agent-data"
        agent_dir.mkdir(mode=0o700)
        token = b"agent-token-" + secrets.token_hex(8).encode()
        token_file = agent_dir / "token"
        token_file.write_bytes(token)
        token_file.chmod(0o600)
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.setblocking(False)
        marker = "rsd" + secrets.token_hex(6)
        return cls(root, canary, canary_content, agent_dir, token_file, token, listener, marker,
                   _start_sentinel())  # fmt: skip

    @property
    def port(self) -> int:
        """The listening port on 127.0.0.1."""
        return int(self.listener.getsockname()[1])

    def input_text(self) -> str:
        """What every hostile script receives: where the host's secrets are."""
        return json.dumps(
            {
                "canary": str(self.canary),
                "agent_dir": str(self.agent_dir),
                "token_file": str(self.token_file),
                "port": self.port,
                "marker": self.marker,
            }
        )

    def assert_untouched(self) -> None:
        """The checks every case must pass after its run."""
        assert self.canary.read_bytes() == self.canary_content, "canary changed"
        assert self.token_file.read_bytes() == self.token, "agent token changed"
        assert sorted(p.name for p in self.agent_dir.iterdir()) == ["token"], "agent dir changed"
        with contextlib.suppress(BlockingIOError):
            connection, address = self.listener.accept()
            connection.close()
            raise AssertionError(f"the host port was contacted from {address}")
        if self.sentinel is not None:
            assert self.sentinel.poll() is None, "the host sentinel process was killed"
        leftovers = sandbox_processes_on_host(self.marker, self.label)
        assert not leftovers, f"processes outlived the task: {leftovers}"

    def close(self) -> None:
        """Stop the sentinel and the listener."""
        self.listener.close()
        if self.sentinel is not None:
            self.sentinel.kill()
            self.sentinel.wait()


def _start_sentinel() -> subprocess.Popen[bytes]:
    """A host process with the sandbox's host uid (when root): a target for escapes."""
    user = 65534 if os.geteuid() == 0 else None
    return subprocess.Popen(
        ["sleep", "600"], user=user, group=user, extra_groups=[] if user else None
    )


def sandbox_processes_on_host(marker: str, label: str) -> list[str]:
    """Host processes of a finished run: in its task cgroup (by label), or the daemon (by name).

    Other sandboxes may be running on the same host (other tests, an agent), so only
    processes in a cgroup named after this run's label count.  (The label is on no
    command line: ``/proc/N/cmdline`` is readable inside the sandbox.)
    """
    found = []
    for proc in psutil.process_iter(["name", "cmdline", "status"]):
        try:
            if proc.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            if proc.info["name"] == marker or (label and in_labelled_cgroup(proc.pid, label)):
                cmdline = " ".join(proc.info["cmdline"] or [])
                found.append(f"{proc.pid} {proc.info['name']} {cmdline[:80]}")
        except psutil.Error:
            continue
    return found


def in_labelled_cgroup(pid: int, label: str) -> bool:
    """True when the process is in a task cgroup whose name ends with `label`'s tag.

    A prefix of a label matches too, at a word boundary: ``job=7`` finds the cgroup of
    ``job=7 task=0 attempt=1`` (named ``runsurge-task-<hex>-job_7_task_0_attempt_1``).
    """
    tag = label_tag(label)
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            text = f.read()
    except OSError:
        return False
    for line in text.splitlines():
        for segment in line.rpartition(":")[2].split("/"):
            if not segment.startswith(TASK_PREFIX):
                continue
            named = segment.partition("-task-")[2].partition("-")[2]
            if named == tag or named.startswith(tag + "_"):
                return True
    return False


ResultCheck = Callable[[dict[str, Any], HostContext], None]


@dataclass(frozen=True)
class HostileCase:
    """One attack and what must come of it."""

    name: str
    expected: OutcomeKind
    error_type: str | None = None
    check_result: ResultCheck | None = None  # for OK outcomes: what the result may contain
    logs_truncated: bool | None = None
    log_contains: bytes | None = None
    policy: SandboxPolicy = HOSTILE_POLICY
    host_check: Callable[[HostContext], None] | None = None
    build_input: Callable[[HostContext], str] = field(default=HostContext.input_text)

    @property
    def script(self) -> Path:
        """The attack script."""
        return SCRIPTS / f"{self.name}.py"

    def check(self, ctx: HostContext) -> None:
        """Host-side checks: the common ones plus the case's own."""
        ctx.assert_untouched()
        if self.host_check is not None:
            self.host_check(ctx)

    def verify(self, ctx: HostContext, outcome: Outcome) -> None:
        """Every assertion for one run of this case."""
        detail = f"{self.name}: {outcome.kind} {outcome.error} logs={outcome.logs[-300:]!r}"
        assert outcome.kind is self.expected, detail
        if self.error_type is not None:
            assert outcome.error is not None and outcome.error.type == self.error_type, detail
        if self.check_result is not None:
            assert outcome.result_json is not None, detail
            self.check_result(json.loads(outcome.result_json), ctx)
        if self.logs_truncated is not None:
            assert outcome.logs_truncated is self.logs_truncated, detail
        if self.log_contains is not None:
            assert self.log_contains in outcome.logs, detail
        assert outcome.leftovers == (), outcome.leftovers
        self.check(ctx)


# ------------------------------------------------------------------ result checks


def _nothing_read(result: dict[str, Any], ctx: HostContext) -> None:
    for key, value in result.items():
        assert str(value).startswith("denied:"), f"{key} was readable: {value}"
    assert ctx.canary_content.decode() not in json.dumps(result)


def _fork_bomb_contained(result: dict[str, Any], ctx: HostContext) -> None:
    assert result["children"] < HOSTILE_POLICY.pids, result
    assert result["fork_errors"] > 0, result


def _minimal_view(result: dict[str, Any], ctx: HostContext) -> None:
    assert set(result["top"]) <= SANDBOX_TOP_LEVEL, result["top"]
    harness = {"/runsurge/harness.py", "/runsurge/harness.pyc"}
    assert set(result["files"]) - harness == {"/task/script.py"}, result["files"]
    assert len(set(result["files"]) & harness) == 1, result["files"]


def _clean_environment(result: dict[str, Any], ctx: HostContext) -> None:
    environ = result["environ"]
    assert set(environ) <= ALLOWED_ENV_KEYS, sorted(environ)
    text = json.dumps(environ)
    for secret in (*SECRET_ENV.values(), ctx.token.decode()):
        assert secret not in text


def _no_shell(result: dict[str, Any], ctx: HostContext) -> None:
    assert result["sh"] == "PermissionError", result  # the exec seal, before any lookup
    assert result["system"] != 0, result
    # Not even the interpreter itself can be exec'd (the exec seal: EACCES).
    assert result["python_child"] == "PermissionError", result
    assert "python_child_stdout" not in result, result


def _nothing_executed(result: dict[str, Any], ctx: HostContext) -> None:
    # EACCES (13) for every execve, in the task and in a child it forked: the exec seal.
    expected = "PermissionError:13"
    assert result["/work"] == result["/dev/shm"] == result["memfd"] == expected, result
    assert result["interpreter"] == expected, result
    assert result["forked_child"] == 113, result


def _all_enosys(result: dict[str, Any], ctx: HostContext) -> None:
    # Not on the allow-list: refused with ENOSYS (38), as an old kernel would.
    assert all(value == [-1, 38] for value in result.values()), result


def _child_exit_seven(result: dict[str, Any], ctx: HostContext) -> None:
    assert result == {"child_exit": 7}, result


def _nothing_written(result: dict[str, Any], ctx: HostContext) -> None:
    assert "WROTE" not in result.values(), result


def _workdir_bounded(result: dict[str, Any], ctx: HostContext) -> None:
    assert result["written"] <= HOSTILE_POLICY.workdir_bytes, result
    assert result["written"] >= HOSTILE_POLICY.workdir_bytes // 2, result
    assert result["error"] == "OSError", result


def _parent_survived(result: dict[str, Any], ctx: HostContext) -> None:
    # The worker's parent is the reporter (PID 1) in a cold run, the zygote (PID 2) in
    # a warm session; either way it must have survived the attack.
    assert result["ppid"] in (1, 2) and result["parent_alive"] is True, result


def _only_own_processes(result: dict[str, Any], ctx: HostContext) -> None:
    pids = result["pids"]
    assert len(pids) <= 3, pids  # the reporter (1), this worker, maybe a just-reaped child
    text = json.dumps(pids)
    for host_word in ("pytest", "bwrap", "sleep", "systemd"):
        assert host_word not in text, pids


def _reporter_memory_private(result: dict[str, Any], ctx: HostContext) -> None:
    assert result["/proc/1/mem"] == "PermissionError", result
    assert result["/proc/1/environ"] == "PermissionError", result


def _threads_capped(result: dict[str, Any], ctx: HostContext) -> None:
    assert result["started"] < HOSTILE_POLICY.pids, result
    assert result["error"] == "can't start new thread", result


def _canary_out_of_reach(result: dict[str, Any], ctx: HostContext) -> None:
    for key in ("canary", "shadow", "token"):
        if key in result:
            assert result[key] == "FileNotFoundError", result


def _subclasses_found_nothing(result: dict[str, Any], ctx: HostContext) -> None:
    assert "_wrap_close" in result["found"], result  # it *can* reach os ...
    _canary_out_of_reach(result, ctx)  # ... which sees only the sandbox
    assert result["system"] != 0, result


def _host_paths_in(text: str, ctx: HostContext) -> list[str]:
    """Host paths (of this test run, the agent's interpreter, users' homes) found in `text`."""
    prefix = Path(sys.base_prefix)
    words = {str(ctx.root), str(ctx.root.resolve()), "pytest-of", "/tmp/", "/root/", "/home/"}
    words |= {str(prefix), str(prefix.resolve()), "/run/runsurge-sandbox"}
    return sorted(word for word in words if word in text)


def _descriptors_name_no_host_path(result: dict[str, Any], ctx: HostContext) -> None:
    for when in ("import", "process"):
        for fd, target in result[when].items():
            # pipe:[…], socket:[…], /dev/null, /proc/N/fd (the listing): nothing of the host.
            inside = not target.startswith("/") or target.startswith(("/dev/", "/proc/"))
            assert inside, (when, fd, target)
    assert not _host_paths_in(json.dumps(result), ctx), result


_HARNESS_PATHS = (HARNESS_INSIDE, HARNESS_PYC_INSIDE)


def _neutral_cmdline_and_environ(result: dict[str, Any], ctx: HostContext) -> None:
    for when in ("import", "process"):
        for pid, seen in result[when].items():
            cmdline = [arg for arg in seen["cmdline"] if arg]  # an error name: unreadable
            if isinstance(seen["cmdline"], list) and cmdline:
                assert cmdline[0].startswith(PREFIX_INSIDE + "/"), (when, pid, cmdline)
                assert cmdline[1:3] == ["-I", "-S"] and cmdline[3] in _HARNESS_PATHS, cmdline
                assert len(cmdline) == 5 and cmdline[4].startswith("config="), cmdline
                assert cmdline[4].removeprefix("config=").isdigit(), cmdline
            if isinstance(seen["environ"], list):
                keys = {item.partition("=")[0] for item in seen["environ"] if item}
                assert keys <= ALLOWED_ENV_KEYS, (when, pid, sorted(keys))
    text = json.dumps(result)
    # The agent's labels read "job=… task=… attempt=…"; the test's own, ctx.label.
    for word in ("label", "job=", "attempt=", "rlimits", "RLIMIT_", "max_output"):
        assert word not in text, (word, text)
    if ctx.label:  # unknown while a real agent's result is checked
        assert ctx.label not in text and label_tag(ctx.label) not in text, text
    for secret in (*SECRET_ENV.values(), ctx.token.decode()):
        assert secret not in text
    assert not _host_paths_in(text, ctx), _host_paths_in(text, ctx)


def _mounts_name_no_host_path(result: dict[str, Any], ctx: HostContext) -> None:
    for name, table in result.items():
        assert not _host_paths_in(table, ctx), (name, _host_paths_in(table, ctx))
        if not name.endswith("mountinfo") or "\n" not in table:
            continue
        for line in table.splitlines():
            root, point = line.split()[3:5]
            # What remains visible (docs/security.md): whole file systems ("/"), system
            # library directories bound at their own path, bubblewrap's own tmpfs files,
            # device nodes, and the staged interpreter under its fixed directory.
            assert (
                root in ("/", point)
                or root.startswith(("/newroot", "/bindfile"))
                or point == "/dev" + root
                or root.startswith(f"{DEFAULT_STAGE_ROOT}/python")
            ), line


def _daemon_gone(ctx: HostContext) -> None:
    names = [p.info["name"] for p in psutil.process_iter(["name"])]
    assert ctx.marker not in names, "the daemonised grandchild survived the task"


def _reporter_alive(result: dict[str, Any], ctx: HostContext) -> None:
    assert result == {"reporter_signalled": True}, result


V, OK = OutcomeKind.SANDBOX_VIOLATION, OutcomeKind.OK

CASES: tuple[HostileCase, ...] = (
    HostileCase("fork_bomb", OK, check_result=_fork_bomb_contained),
    HostileCase("memory_bomb", OutcomeKind.OUT_OF_MEMORY),
    # Its own wall limit, far above the CPU limit: on a loaded machine a busy loop may
    # get a small share of a core, and must still meet its CPU limit before the clock.
    HostileCase(
        "cpu_loop",
        OutcomeKind.CPU_LIMIT,
        error_type="CpuLimit",
        policy=dataclasses.replace(HOSTILE_POLICY, wall_seconds=30.0),
    ),
    HostileCase("sleep_forever", OutcomeKind.TIMEOUT, error_type="Timeout"),
    HostileCase("read_secrets", OK, check_result=_nothing_read),
    HostileCase("walk_filesystem", OK, check_result=_minimal_view),
    HostileCase("print_environ", OK, check_result=_clean_environment),
    HostileCase("connect_host_port", V, error_type="SeccompViolation"),
    HostileCase("subprocess_and_system", OK, check_result=_no_shell),
    HostileCase("ctypes_unshare", V, error_type="SeccompViolation"),
    HostileCase("ctypes_ptrace", V, error_type="SeccompViolation"),
    HostileCase("ctypes_fork", OK, check_result=_child_exit_seven),
    HostileCase("exec_dropped_binary", OK, check_result=_nothing_executed),
    HostileCase("unlisted_syscalls", OK, check_result=_all_enosys),
    HostileCase("ioctl_tiocsetd", V, error_type="SeccompViolation"),
    HostileCase("x32_syscall", V, error_type="SeccompViolation"),
    HostileCase("ctypes_mount", V, error_type="SeccompViolation"),
    HostileCase("write_outside_workdir", OK, check_result=_nothing_written),
    HostileCase("fill_workdir", OK, check_result=_workdir_bounded),
    HostileCase("daemon_grandchild", OK, host_check=_daemon_gone),
    HostileCase("kill_parent_and_init", OK, check_result=_parent_survived),
    HostileCase("proc_snoop", OK, check_result=_only_own_processes),
    HostileCase("steal_reporter_memory", OK, check_result=_reporter_memory_private),
    HostileCase("many_threads", OK, check_result=_threads_capped),
    HostileCase("huge_return", OutcomeKind.OUT_OF_MEMORY),
    HostileCase("oversized_return", OutcomeKind.OUTPUT_TOO_LARGE, error_type="OutputTooLarge"),
    HostileCase("flood_stdout", OK, logs_truncated=True, log_contains=b"flood flood"),
    HostileCase("forge_frames", V, error_type="ProtocolViolation"),
    HostileCase(
        "os_exit_before_return",
        OutcomeKind.SCRIPT_ERROR,
        error_type="ExitedWithoutResult",
        log_contains=b"about to exit",
    ),
    HostileCase("sys_exit", OutcomeKind.SCRIPT_ERROR, error_type="SystemExit"),
    HostileCase("subclasses_walk", OK, check_result=_subclasses_found_nothing),
    HostileCase("exec_base64_payload", OK, check_result=_canary_out_of_reach),
    HostileCase("raise_keyboard_interrupt_in_reporter", OK, check_result=_reporter_alive),
    HostileCase("fd_links_at_import", OK, check_result=_descriptors_name_no_host_path),
    HostileCase("proc_cmdline_environ", OK, check_result=_neutral_cmdline_and_environ),
    HostileCase("mountinfo_host_paths", OK, check_result=_mounts_name_no_host_path),
)
