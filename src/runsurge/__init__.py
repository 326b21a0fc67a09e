"""RunSurge: run Python `process(input_data) -> dict` functions on contributed machines.

`runsurge.Client` and `runsurge.Pool` are the consumer SDK's entry points, loaded on
first use: every role imports this package, and a contributor or a coordinator must
not pay for the client (nor `import runsurge.wire_limits` for anything else).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Client", "Pool"]

if TYPE_CHECKING:
    from runsurge.client import Client, Pool


def __getattr__(name: str) -> Any:
    if name in __all__:
        value = getattr(importlib.import_module("runsurge.client"), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'runsurge' has no attribute {name!r}")
