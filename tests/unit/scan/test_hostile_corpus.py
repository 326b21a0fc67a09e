"""The sandbox's hostile scripts: the scan rejects each one it can see.

tests/hostile/scripts/ belongs to the sandbox work; this module skips when it is
absent. A script passes this test only if the scan rejects it (with the expected
rule, where EXPECTED_RULES names one) or if it is listed in STATIC_BLIND_SPOTS with
the reason no static rule can catch it; docs/scanning.md repeats that list.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from runsurge.scan import Finding, SemgrepCoreEngine

from .conftest import scan_batch

HOSTILE = Path(__file__).resolve().parents[2] / "hostile" / "scripts"

if not HOSTILE.is_dir():
    pytest.skip("tests/hostile/scripts/ does not exist yet", allow_module_level=True)

# Script file name -> rule id that must be among its ERROR findings: the rule that
# catches the attack itself, not an incidental finding on the same script.
EXPECTED_RULES: dict[str, str] = {
    "connect_host_port.py": "runsurge.network.socket",
    "ctypes_fork.py": "runsurge.native.ctypes",
    "ctypes_mount.py": "runsurge.native.ctypes",
    "ctypes_ptrace.py": "runsurge.native.ctypes",
    "ctypes_unshare.py": "runsurge.native.ctypes",
    "daemon_grandchild.py": "runsurge.signals.session",
    "exec_base64_payload.py": "runsurge.dynamic.exec",
    # Caught only because it names /work; the same loop on relative names is a
    # resource-exhaustion blind spot (see docs/security.md).
    "fill_workdir.py": "runsurge.filesystem.absolute-path",
    "fd_links_at_import.py": "runsurge.filesystem.absolute-path",
    "fork_bomb.py": "runsurge.process.os-fork",
    "kill_parent_and_init.py": "runsurge.process.os-kill",
    "mountinfo_host_paths.py": "runsurge.filesystem.absolute-path-flow",
    "os_exit_before_return.py": "runsurge.signals.hard-exit",
    "print_environ.py": "runsurge.environment.os-environ",
    "proc_cmdline_environ.py": "runsurge.filesystem.absolute-path",
    "proc_snoop.py": "runsurge.filesystem.absolute-path",
    "raise_keyboard_interrupt_in_reporter.py": "runsurge.process.os-kill",
    "read_secrets.py": "runsurge.filesystem.absolute-path",
    "steal_reporter_memory.py": "runsurge.filesystem.absolute-path-flow",
    "subclasses_walk.py": "runsurge.escape.subclasses",
    "subprocess_and_system.py": "runsurge.process.subprocess",
    "sys_exit.py": "runsurge.signals.sys-exit",
    "walk_filesystem.py": "runsurge.filesystem.absolute-path",
    "write_outside_workdir.py": "runsurge.filesystem.absolute-path-flow",
    "x32_syscall.py": "runsurge.native.ctypes",
}

# Script file name -> why no static rule can catch it (the sandbox contains it).
# docs/security.md ("What the scan cannot see") lists the same scripts.
STATIC_BLIND_SPOTS: dict[str, str] = {
    "cpu_loop.py": "an endless loop is ordinary syntax; whether a loop ends is undecidable",
    "flood_stdout.py": "printing is allowed; how much is printed depends on run-time values",
    "forge_frames.py": (
        "a frame is plain bytes and a descriptor a plain int; open(n, 'wb', closefd=False) or "
        "print() write them as ordinary output does"
    ),
    "huge_return.py": "a value's size is computed at run time ('a' * n); so is any dict's",
    "many_threads.py": (
        "threads are allowed; how many start depends on run-time values, and one thread per "
        "chunk in a loop is an ordinary idiom"
    ),
    "memory_bomb.py": "appending to a list in a loop is ordinary code; its size is run-time",
    "oversized_return.py": "a result's size is a run-time value; the cap is the sandbox's",
    "sleep_forever.py": (
        "waiting is ordinary (time.sleep, Event.wait, queue.get, a lock); its length is a "
        "run-time value"
    ),
}

SCRIPTS = {p.name: p.read_bytes() for p in sorted(HOSTILE.glob("*.py"))}


@pytest.fixture(scope="module")
def hostile_findings(engine: SemgrepCoreEngine) -> dict[str, list[Finding]]:
    return scan_batch(engine, SCRIPTS)


def test_expectations_name_existing_scripts() -> None:
    assert set(EXPECTED_RULES) <= set(SCRIPTS)
    assert set(STATIC_BLIND_SPOTS) <= set(SCRIPTS)
    assert not set(EXPECTED_RULES) & set(STATIC_BLIND_SPOTS)


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_hostile_script_is_rejected_or_a_documented_blind_spot(
    hostile_findings: dict[str, list[Finding]], name: str
) -> None:
    errors = {f.rule_id for f in hostile_findings[name] if f.is_error}
    if name in STATIC_BLIND_SPOTS:
        assert not errors, f"{name} is now caught ({errors}); move it to EXPECTED_RULES"
        return
    assert errors, f"{name} passes the scan and is not a documented blind spot"
    if name in EXPECTED_RULES:
        assert EXPECTED_RULES[name] in errors
