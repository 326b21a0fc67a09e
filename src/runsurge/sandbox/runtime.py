"""Which Python runs inside the sandbox, and which host directories it needs.

The sandbox runs the same interpreter as the agent (``sys.base_prefix``), started
as ``pythonX.Y -I -S``: isolated mode (no user site, no PYTHON* variables, no
script directory on the path) and no ``site`` (no third-party packages).  The
sandbox sees that prefix read-only plus the shared-library directories the
interpreter links against; nothing else of the host's file system.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT_SYMLINK_CANDIDATES = ("/lib", "/lib64", "/lib32", "/libx32")


@dataclass(frozen=True)
class PythonRuntime:
    """A Python installation the sandbox can mount read-only."""

    prefix: Path  # host path, e.g. /root/.pyenv/versions/3.11.7
    executable: Path  # inside the prefix, e.g. <prefix>/bin/python3.11
    library_dirs: tuple[Path, ...]  # resolved host directories of shared libraries
    root_symlinks: tuple[tuple[str, str], ...]  # e.g. ("/lib", "usr/lib") on merged-/usr hosts
    libpython_in_prefix: bool  # the binary needs <prefix>/lib on the loader path
    version: str  # "3.11": selects site-packages and whether agent-compiled bytecode fits

    @property
    def relative_executable(self) -> str:
        """The executable's path relative to the prefix, e.g. "bin/python3.11"."""
        return str(self.executable.relative_to(self.prefix))

    def site_packages(self) -> str:
        """site-packages relative to the prefix; hidden inside the sandbox."""
        return f"lib/python{self.version}/site-packages"

    @property
    def is_agent_interpreter(self) -> bool:
        """True when this is the agent's own Python version (same bytecode format)."""
        return self.version == agent_version()


def agent_version() -> str:
    """The running interpreter's "major.minor"."""
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def current_runtime() -> PythonRuntime:
    """The interpreter this process was built from (venvs resolved to their base)."""
    prefix = Path(sys.base_prefix).resolve()
    executable = prefix / "bin" / f"python{agent_version()}"
    if not executable.is_file():
        raise FileNotFoundError(f"no interpreter at {executable}")
    return runtime_for(prefix, executable, agent_version())


def runtime_for(prefix: Path, executable: Path, version: str) -> PythonRuntime:
    """Describe an interpreter: the library directories come from ``ldd``."""
    libraries = linked_libraries(executable)
    dirs: list[Path] = []
    in_prefix = False
    for library in libraries:
        resolved = library.resolve()
        if resolved.name.startswith("libpython") and resolved.is_relative_to(prefix):
            in_prefix = True  # reached through LD_LIBRARY_PATH=<prefix inside>/lib
            continue
        for directory in (library.parent.resolve(), resolved.parent):
            if directory not in dirs:
                dirs.append(directory)
    symlinks = tuple(
        (link, os.readlink(link)) for link in ROOT_SYMLINK_CANDIDATES if os.path.islink(link)
    )
    return PythonRuntime(prefix, executable, tuple(dirs), symlinks, in_prefix, version)


def linked_libraries(executable: Path) -> list[Path]:
    """Absolute paths of the shared libraries (and loader) the executable needs."""
    output = subprocess.run(
        ["ldd", str(executable)], capture_output=True, text=True, check=True, timeout=10
    ).stdout
    return parse_ldd(output)


def parse_ldd(output: str) -> list[Path]:
    """Paths from ldd's output: ``name => /path (addr)`` and ``/path (addr)`` lines."""
    paths: list[Path] = []
    for line in output.splitlines():
        line = line.strip()
        candidate = line.split("=>", 1)[1].strip() if "=>" in line else line
        candidate = candidate.split(" (", 1)[0].strip()
        if candidate.startswith("/"):
            paths.append(Path(candidate))
    return paths
