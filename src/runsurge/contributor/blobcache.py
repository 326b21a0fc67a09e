"""Scripts and inputs fetched from the coordinator, verified by hash before use.

Scripts are cached by hash for the agent's lifetime, so a group's script crosses the
network once per contributor. A blob whose bytes do not hash to the name it was asked
for is discarded: the agent runs only the exact script that was scanned.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from runsurge.errors import InvalidRequest


class BlobMismatch(InvalidRequest):
    """Fetched bytes do not hash to the requested sha256."""


async def save_verified(chunks: AsyncIterator[bytes], sha256: str, target: Path) -> int:
    """Write a streamed blob to `target` atomically if it hashes to `sha256`; return its size."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".part-")
    digest = hashlib.sha256()
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            async for data in chunks:
                digest.update(data)
                out.write(data)
                size += len(data)
        if digest.hexdigest() != sha256:
            raise BlobMismatch(
                f"blob {sha256} arrived with hash {digest.hexdigest()}; refusing to use it"
            )
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return size


class ScriptCache:
    """Verified scripts on local disk, named by their hash."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        """Where the script with this hash is (or will be) kept."""
        return self.root / f"{sha256}.py"

    def has(self, sha256: str) -> bool:
        """Whether a verified copy is already here."""
        return self.path(sha256).is_file()
