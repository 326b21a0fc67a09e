"""A staged copy of the interpreter, so that the sandbox's mountinfo names no host path.

A bind mount shows, in the "root" field of ``/proc/self/mountinfo``, the path of its
source inside the source's file system: binding ``/root/.pyenv/versions/3.11.7``
shows exactly that (the agent's user, its tools, its layout) to every script.
bubblewrap 0.8 cannot change it: ``--ro-bind``, ``--ro-bind-fd`` and the launch
chain's own ``mount --bind`` all mount the same dentry; only a whole file system
shows ``/``.  So a root agent binds a *stage* instead: hard links (copies, across
file systems) of just what the sandbox runs — the executable, ``libpython``, and the
standard library without ``site-packages`` — under a fixed directory,
``/var/lib/runsurge-sandbox/runtime/python<version>-<digest>``.  That path names no user,
work directory or sandbox directory; it is what mountinfo shows (docs/security.md).

The digest covers the staged files' and directories' names, sizes, modes and
modification times, not the prefix's path: an upgraded interpreter gets a new stage,
agents on one host share one, and the name says nothing about where the interpreter
lives.  A stage is
built in a temporary directory and renamed into place, so a concurrent agent sees a
whole stage or none; stages are never modified, only added.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from runsurge.sandbox.runtime import PythonRuntime

DEFAULT_STAGE_ROOT = Path("/var/lib/runsurge-sandbox/runtime")


def stage_runtime(runtime: PythonRuntime, root: Path = DEFAULT_STAGE_ROOT) -> PythonRuntime:
    """`runtime` with its prefix replaced by a stage under `root` (built if missing)."""
    entries, watched = _entries(runtime)
    stage = root / f"python{_full_version(runtime)}-{_digest(runtime.prefix, watched)}"
    if not stage.is_dir():
        _build(runtime.prefix, sorted(entries), root, stage)
    return replace(runtime, prefix=stage, executable=stage / runtime.relative_executable)


def _entries(runtime: PythonRuntime) -> tuple[list[str], list[str]]:
    """(everything to stage, what the digest watches), as paths relative to the prefix.

    Staged: the executable, ``lib/libpython*``, the stdlib minus site-packages.  Watched:
    those files and every stdlib directory — a file added, removed or replaced changes
    its directory's mtime, and a file changed in place is the same inode as its hard
    link.  Watching directories, not 8,000 files, keeps an agent's start at ~10 ms.
    """
    prefix = str(runtime.prefix)
    files = [runtime.relative_executable]
    lib = os.path.join(prefix, "lib")
    if os.path.isdir(lib):
        files += [f"lib/{name}" for name in os.listdir(lib) if name.startswith("libpython")]
    entries, directories = list(files), []
    skip = os.path.join(prefix, runtime.site_packages())
    for directory, dirs, names in os.walk(os.path.join(prefix, f"lib/python{runtime.version}")):
        if directory == skip:
            dirs.clear()
            continue
        relative = os.path.relpath(directory, prefix)
        directories.append(relative)
        links = [d for d in dirs if os.path.islink(os.path.join(directory, d))]
        entries += [relative, *(os.path.join(relative, name) for name in [*names, *links])]
    return entries, sorted(files) + directories


def _digest(prefix: Path, watched: list[str]) -> str:
    """Over names, sizes, modes and mtimes (lstat): a change means a new stage."""
    hasher = hashlib.sha256()
    for relative in watched:
        info = os.lstat(os.path.join(prefix, relative))
        hasher.update(f"{relative}\0{info.st_size}\0{info.st_mode}\0{info.st_mtime_ns}\n".encode())
    return hasher.hexdigest()[:16]


def _full_version(runtime: PythonRuntime) -> str:
    """ "3.11.7" for the agent's own interpreter, else the major.minor it was given."""
    if runtime.is_agent_interpreter:
        return ".".join(str(part) for part in sys.version_info[:3])
    return runtime.version


def _build(prefix: Path, entries: list[str], root: Path, stage: Path) -> None:
    """Link (or copy) every entry into a fresh directory, then rename it into place."""
    root.mkdir(parents=True, exist_ok=True, mode=0o755)
    building = Path(tempfile.mkdtemp(prefix=".building-", dir=root))
    try:
        for relative in entries:
            _stage_one(prefix / relative, building / relative)
        building.chmod(0o755)
        try:
            building.rename(stage)
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
            # Another agent staged the same interpreter meanwhile: use theirs.
    finally:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(building)


def _stage_one(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_symlink():
        target.symlink_to(os.readlink(source))
    elif source.is_dir():
        target.mkdir(exist_ok=True)
        shutil.copymode(source, target)
    else:
        try:
            os.link(source, target)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM):
                raise
            shutil.copy2(source, target)  # another file system, or protected_hardlinks
