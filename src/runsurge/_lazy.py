"""Lazy package exports: a package names its public objects without importing them.

`runsurge.sandbox` and `runsurge.scan` re-export names from heavy submodules; importing
one light submodule (the sandbox policy, the scan findings) must not load the rest,
or the consumer SDK would pull in psutil, seccomp and the Semgrep runner.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_getattr(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` (PEP 562) importing `exports[name]` on first use of `name`."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)  # later lookups skip this function
        return value

    return __getattr__
