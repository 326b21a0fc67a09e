"""Build a virtualenv holding the lowest versions pyproject.toml admits, to test the floors.

Usage: python scripts/dependency_floors.py VENV_DIR [--extra NAME ...]

A floor that is not true (say `grpcio>=1.78` while the generated stubs need 1.81.1)
passes every test in a venv where pip picked the newest release. This installs each
requirement of the base install (and of the named extras) at exactly its `>=` floor,
lets pip resolve the rest, and makes the checkout importable with a .pth file, so the
tests can run the consumer SDK against those versions (tests/integration/
test_dependency_floors.py).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# What pip prints when it cannot reach the index at all, as opposed to refusing the pins.
_OFFLINE = re.compile(r"NewConnectionError|name resolution|Network is unreachable|ConnectTimeout")
_FLOOR = re.compile(r"^\s*([A-Za-z0-9_.\-]+(?:\[[^\]]+\])?)\s*(.*)$")


class FloorInstallFailed(Exception):
    """pip could not install the floor pins: they conflict, or the index is unreachable."""

    def __init__(self, pins: list[str], stderr: str) -> None:
        self.pins = pins
        self.stderr = stderr
        self.offline = bool(_OFFLINE.search(stderr))
        super().__init__(f"pip install {' '.join(pins)} failed:\n{stderr[-3000:]}")


def floor_pin(requirement: str) -> str:
    """`grpcio>=1.81.1,<2` → `grpcio==1.81.1`; a requirement without a floor is refused."""
    match = _FLOOR.match(requirement)
    if match is None:
        raise ValueError(f"cannot read requirement {requirement!r}")
    name, specifiers = match.groups()
    floors = [s.strip()[2:].strip() for s in specifiers.split(",") if s.strip().startswith(">=")]
    if len(floors) != 1:
        raise ValueError(f"requirement {requirement!r} has no single >= floor")
    return f"{name}=={floors[0]}"


def floor_pins(pyproject: Path, extras: list[str]) -> list[str]:
    """Exact floor pins of the base requirements and of `extras` (self-references skipped)."""
    project = tomllib.loads(pyproject.read_text())["project"]
    requirements = list(project["dependencies"])
    optional = project.get("optional-dependencies", {})
    for extra in extras:
        if extra not in optional:
            raise ValueError(f"pyproject.toml has no extra {extra!r}")
        requirements += [r for r in optional[extra] if not r.startswith(project["name"])]
    return [floor_pin(r) for r in requirements]


def build(target: Path, extras: list[str]) -> Path:
    """Create the venv at `target` with the floors installed; return its python."""
    venv.EnvBuilder(with_pip=True, clear=True).create(target)
    python = target / "bin" / "python"
    pins = floor_pins(ROOT / "pyproject.toml", extras)
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *pins],
        capture_output=True,
        text=True,
    )
    if install.returncode != 0:
        raise FloorInstallFailed(pins, install.stderr)
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site) / "runsurge-checkout.pth").write_text(str(ROOT / "src") + "\n")
    return python


def main() -> None:
    """Command-line entry: build the venv and print the pins it holds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("venv_dir", type=Path)
    parser.add_argument("--extra", action="append", default=[], help="also pin this extra")
    args = parser.parse_args()
    build(args.venv_dir, args.extra)
    for pin in floor_pins(ROOT / "pyproject.toml", args.extra):
        print(pin)


if __name__ == "__main__":
    sys.exit(main())
