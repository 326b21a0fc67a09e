"""cgroup file formats and the v2 implementation against a fake directory tree.

The v1 implementation is exercised for real in the integration tests; v2 cannot run
on the development host, so here its files are plain files in a temporary tree.
"""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from runsurge.sandbox import _cgroup_v2
from runsurge.sandbox._cgroup_v1 import CgroupV1Host
from runsurge.sandbox._cgroup_v2 import CgroupV2Host, CgroupV2Task
from runsurge.sandbox.cgroups import (
    CgroupError,
    CgroupMount,
    find_cgroup_host,
    parse_mountinfo,
    parse_proc_cgroup,
    read_keyed,
    remove_dirs,
)
from runsurge.sandbox.policy import MiB, SandboxPolicy

HYBRID_PROC_CGROUP = """\
9:name=systemd:/
8:pids:/
4:memory:/process_api/abc
2:cpu,cpuacct:/tasks
0::/
"""
V2_PROC_CGROUP = "0::/system.slice/runsurge.service\n"
MOUNTINFO = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
33 31 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 /docker/x /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified\\040dir rw,relatime - cgroup2 cgroup2 rw
"""


def test_proc_cgroup_maps_each_controller() -> None:
    paths = parse_proc_cgroup(HYBRID_PROC_CGROUP)
    assert paths["memory"] == "/process_api/abc"
    assert paths["cpuacct"] == paths["cpu"] == "/tasks"
    assert paths["pids"] == "/" and paths[""] == "/"


def test_mountinfo_finds_v1_controllers_v2_and_unescapes() -> None:
    v1, v2 = parse_mountinfo(MOUNTINFO)
    assert v1["memory"] == (Path("/sys/fs/cgroup/memory"), "/docker/x")
    assert v1["cpuacct"][0] == Path("/sys/fs/cgroup/cpu,cpuacct")
    assert v2 == (Path("/sys/fs/cgroup/unified dir"), "/")


def test_own_dir_strips_the_mounted_root() -> None:
    mount = CgroupMount(Path("/sys/fs/cgroup/memory"), "/docker/x/task", "/docker/x")
    assert mount.own_dir() == Path("/sys/fs/cgroup/memory/task")
    assert CgroupMount(Path("/cg"), "/a/b").own_dir() == Path("/cg/a/b")


def test_keyed_files(tmp_path: Path) -> None:
    events = tmp_path / "memory.events"
    events.write_text("low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n")
    assert read_keyed(events, "oom_kill") == 2
    assert read_keyed(events, "absent") is None
    assert read_keyed(tmp_path / "missing", "oom_kill") is None


# ------------------------------------------------------------------- v2 on a fake tree


def fake_v2_parent(root: Path, controllers: str = "cpuset cpu io memory pids") -> Path:
    parent = root / "system.slice" / "runsurge.service"
    parent.mkdir(parents=True)
    (parent / "cgroup.controllers").write_text(controllers + "\n")
    (parent / "cgroup.subtree_control").write_text("")
    (parent / "cgroup.procs").write_text("")
    return parent


def v2_host(root: Path) -> CgroupV2Host:
    return CgroupV2Host(CgroupMount(root, "/system.slice/runsurge.service"))


def test_v2_task_gets_limits_with_swap_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parent = fake_v2_parent(tmp_path)
    real_mkdir = Path.mkdir

    def mkdir_with_swap_file(self: Path, *args: object, **kwargs: object) -> None:
        real_mkdir(self, *args, **kwargs)  # type: ignore[arg-type]
        (self / "memory.swap.max").write_text("max\n")  # the kernel creates it
        (self / "cpu.max").write_text("max 100000\n")  # with the cpu controller enabled

    monkeypatch.setattr(Path, "mkdir", mkdir_with_swap_file)
    task = v2_host(tmp_path).create(SandboxPolicy(memory_bytes=64 * MiB, pids=16, cpu_cores=1.5))
    directory = next(p for p in parent.iterdir() if p.is_dir())
    assert directory.name.startswith("runsurge-task-")
    assert (directory / "memory.max").read_text() == str(64 * MiB)
    assert (directory / "memory.swap.max").read_text() == "0"
    assert (directory / "pids.max").read_text() == "16"
    assert (directory / "cpu.max").read_text() == "150000 100000"
    assert (parent / "cgroup.subtree_control").read_text() == "+memory +pids +cpu"
    assert task.description.endswith(directory.name)


def test_v2_without_a_delegated_cpu_controller_has_no_cap_and_says_so(tmp_path: Path) -> None:
    parent = fake_v2_parent(tmp_path, controllers="memory pids")
    task = v2_host(tmp_path).create(SandboxPolicy())
    assert (parent / "cgroup.subtree_control").read_text() == "+memory +pids"
    assert task.throttled_periods() is None


def test_v2_usage_files(tmp_path: Path) -> None:
    directory = tmp_path / "task"
    directory.mkdir()
    (directory / "memory.current").write_text("1048576\n")
    (directory / "memory.peak").write_text("4194304\n")
    (directory / "memory.events").write_text("low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\n")
    (directory / "cpu.stat").write_text("usage_usec 2500000\nuser_usec 2000000\n")
    (directory / "cgroup.procs").write_text("")
    (directory / "cgroup.events").write_text("populated 0\nfrozen 0\n")
    task = CgroupV2Task(directory)
    assert task.memory_bytes() == MiB and task.peak_memory_bytes() == 4 * MiB
    assert task.oom_kills() == 1 and task.cpu_seconds() == 2.5
    assert task.pids() == [] and not task.populated()


def test_v2_without_memory_peak_falls_back_to_sampling(tmp_path: Path) -> None:
    (tmp_path / "memory.max").write_text("max\n")
    assert CgroupV2Task(tmp_path).peak_memory_bytes() is None


def test_v2_kill_all_writes_cgroup_kill(tmp_path: Path) -> None:
    (tmp_path / "cgroup.kill").write_text("")
    (tmp_path / "cgroup.procs").write_text("")
    assert CgroupV2Task(tmp_path).kill_all()
    assert (tmp_path / "cgroup.kill").read_text() == "1"


def test_v2_reports_missing_controllers(tmp_path: Path) -> None:
    fake_v2_parent(tmp_path, controllers="cpu io")
    problem = v2_host(tmp_path).missing_controllers()
    assert problem is not None and "memory, pids" in problem


def test_v2_moves_the_agent_to_a_leaf_when_the_parent_is_busy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parent = fake_v2_parent(tmp_path)
    (parent / "cgroup.procs").write_text("1234\n5678\n")
    calls: list[tuple[str, str]] = []
    real_write = _cgroup_v2.write_value

    def write(path: Path, value: str | int) -> None:
        calls.append((str(path.relative_to(parent)), str(value)))
        if path.name == "cgroup.subtree_control" and not (parent / "runsurge-agent").exists():
            raise CgroupError(errno.EBUSY, "busy")
        real_write(path, value)

    monkeypatch.setattr(_cgroup_v2, "write_value", write)
    v2_host(tmp_path).prepare()
    assert calls == [
        ("cgroup.subtree_control", "+memory +pids +cpu"),
        ("runsurge-agent/cgroup.procs", "1234"),
        ("runsurge-agent/cgroup.procs", "5678"),
        ("cgroup.subtree_control", "+memory +pids +cpu"),
    ]


def test_find_host_prefers_v2_with_controllers(tmp_path: Path) -> None:
    fake_v2_parent(tmp_path)
    proc = tmp_path / "proc-cgroup"
    proc.write_text(V2_PROC_CGROUP)
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(f"41 31 0:38 / {tmp_path} rw - cgroup2 cgroup2 rw\n")
    assert find_cgroup_host(proc, mountinfo).version == "v2"


def test_find_host_falls_back_to_v1(tmp_path: Path) -> None:
    fake_v2_parent(tmp_path, controllers="")  # the hybrid layout: v2 without controllers
    proc = tmp_path / "proc-cgroup"
    proc.write_text("8:pids:/\n4:memory:/x\n0::/system.slice/runsurge.service\n")
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(
        f"41 31 0:38 / {tmp_path} rw - cgroup2 cgroup2 rw\n"
        "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
        "39 31 0:36 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n"
    )
    host = find_cgroup_host(proc, mountinfo)
    assert isinstance(host, CgroupV1Host) and host.version == "v1"


def test_find_host_explains_what_is_missing(tmp_path: Path) -> None:
    proc = tmp_path / "proc-cgroup"
    proc.write_text("4:memory:/x\n")
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text("35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n")
    with pytest.raises(CgroupError, match="no pids hierarchy"):
        find_cgroup_host(proc, mountinfo)


def test_remove_reports_what_it_cannot_remove(tmp_path: Path) -> None:
    directory = tmp_path / "busy"
    directory.mkdir()
    (directory / "file").write_text("x")  # a plain directory is not empty
    problems = remove_dirs([directory], timeout=0.01)
    assert len(problems) == 1 and "cannot remove cgroup" in problems[0]


def test_v1_cpu_and_cpuacct_mounted_together_share_one_directory_and_get_the_cap(
    tmp_path: Path,
) -> None:
    mounts = {}
    for controller in ("memory", "pids", "cpuacct", "cpu"):
        # cpu and cpuacct are one hierarchy ("cpu,cpuacct"), as on most v1 hosts.
        root = tmp_path / ("cpu,cpuacct" if controller.startswith("cpu") else controller)
        root.mkdir(exist_ok=True)
        mounts[controller] = CgroupMount(root, "/")
    task = CgroupV1Host(mounts).create(SandboxPolicy(memory_bytes=64 * MiB, cpu_cores=0.25))
    shared = next((tmp_path / "cpu,cpuacct").iterdir())
    assert (shared / "cpu.cfs_period_us").read_text() == "100000"
    assert (shared / "cpu.cfs_quota_us").read_text() == "25000"
    (shared / "cpu.stat").write_text("nr_periods 10\nnr_throttled 4\nthrottled_time 9\n")
    assert task.throttled_periods() == 4
