"""Content-addressed blob storage for scripts, inputs and results.

A blob's name is the hex sha256 of its bytes, so identical inputs are stored once and
any reader can verify what it got. Writers stream: nothing here needs a whole blob in
memory. `DirectoryBlobStore` keeps blobs as files; another store (object storage)
only needs to implement `BlobStore`.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from runsurge.errors import InvalidRequest, NotFound

CHUNK_SIZE = 1024 * 1024
_SHA256 = re.compile(r"[0-9a-f]{64}")


def check_sha256(sha: str) -> str:
    """Return `sha` if it is a lowercase hex sha256, else raise InvalidRequest."""
    if not _SHA256.fullmatch(sha):
        raise InvalidRequest(f"not a sha256 hex digest: {sha[:80]!r}")
    return sha


@dataclass(frozen=True)
class BlobRef:
    """Where a stored blob is: its hash and its size."""

    sha256: str
    size: int


class BlobWriter(Protocol):
    """Receives a blob piece by piece, then commits it under its hash."""

    def write(self, data: bytes) -> None:
        """Append bytes."""
        ...

    def commit(self) -> BlobRef:
        """Finish the blob and make it readable under its hash."""
        ...

    def abort(self) -> None:
        """Drop what was written."""
        ...


class BlobStore(Protocol):
    """Content-addressed storage; blobs are immutable once committed."""

    def writer(self) -> BlobWriter:
        """Start a new blob."""
        ...

    def put(self, data: bytes) -> BlobRef:
        """Store a small blob in one call."""
        ...

    def exists(self, sha256: str) -> bool:
        """Whether a blob with this hash is stored."""
        ...

    def size(self, sha256: str) -> int:
        """The stored blob's size in bytes; NotFound if absent."""
        ...

    def open(self, sha256: str) -> BinaryIO:
        """A binary reader over the blob; NotFound if absent."""
        ...

    def iter_chunks(self, sha256: str, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """Yield the blob in pieces of at most `chunk_size` bytes."""
        ...


class _FileBlobWriter:
    """Writes to a temporary file beside the store, hashing as it goes."""

    def __init__(self, store: DirectoryBlobStore) -> None:
        self._store = store
        fd, name = tempfile.mkstemp(dir=store.tmp_dir, prefix="blob-")
        self._file = os.fdopen(fd, "wb")
        self._path = Path(name)
        self._hash = hashlib.sha256()
        self._size = 0
        self._done = False

    def write(self, data: bytes) -> None:
        self._hash.update(data)
        self._size += len(data)
        self._file.write(data)

    def commit(self) -> BlobRef:
        self._file.close()
        self._done = True
        ref = BlobRef(self._hash.hexdigest(), self._size)
        final = self._store.path_of(ref.sha256)
        if final.exists():
            self._path.unlink()
        else:
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self._path, final)  # atomic: readers never see a partial blob
        return ref

    def abort(self) -> None:
        if not self._done:
            self._file.close()
            self._path.unlink(missing_ok=True)
            self._done = True

    def __enter__(self) -> _FileBlobWriter:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is not None:
            self.abort()


class DirectoryBlobStore:
    """Blobs as files named by hash under `root/ab/cdef…`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp_dir = root / "tmp"
        self.tmp_dir.mkdir(parents=True, exist_ok=True)

    def path_of(self, sha256: str) -> Path:
        """The file a blob lives in (whether or not it exists yet)."""
        check_sha256(sha256)
        return self.root / sha256[:2] / sha256[2:]

    def writer(self) -> _FileBlobWriter:
        return _FileBlobWriter(self)

    def put(self, data: bytes) -> BlobRef:
        with self.writer() as writer:
            writer.write(data)
            return writer.commit()

    def exists(self, sha256: str) -> bool:
        return self.path_of(sha256).is_file()

    def size(self, sha256: str) -> int:
        try:
            return self.path_of(sha256).stat().st_size
        except FileNotFoundError:
            raise NotFound(f"blob {sha256} not found") from None

    def open(self, sha256: str) -> BinaryIO:
        try:
            return self.path_of(sha256).open("rb")
        except FileNotFoundError:
            raise NotFound(f"blob {sha256} not found") from None

    def read(self, sha256: str) -> bytes:
        """The whole blob; for small blobs only."""
        with self.open(sha256) as f:
            return f.read()

    def iter_chunks(self, sha256: str, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        with self.open(sha256) as f:
            while chunk := f.read(chunk_size):
                yield chunk
