"""Result uploads: a large result streamed from an agent into the blob store.

Chunks go to the blob store as they arrive while being hashed and counted, so no
result is held whole in memory; one over the size limit is refused as soon as it
crosses it. The hash the agent claims (on any chunk, normally the last) must match
the bytes received. A refused or broken upload leaves nothing behind. The stored
blob becomes a task's result only when the attempt's report names it (attempts.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterable
from dataclasses import dataclass

from runsurge.errors import InvalidRequest, LimitExceeded
from runsurge.store.blobs import BlobRef, BlobStore

MAX_UPLOAD_BYTES = 1024 * 1024 * 1024


@dataclass(frozen=True)
class UploadChunk:
    """A piece of an upload; `sha256` is the whole blob's hash where the agent sends it."""

    data: bytes
    sha256: str = ""


async def receive_result(
    blobs: BlobStore, chunks: AsyncIterable[UploadChunk], limit: int = MAX_UPLOAD_BYTES
) -> BlobRef:
    """Store an uploaded result; LimitExceeded past `limit`, InvalidRequest on a bad hash."""
    writer = blobs.writer()
    digest = hashlib.sha256()
    size, claimed = 0, ""
    try:
        async for chunk in chunks:
            size += len(chunk.data)
            if size > limit:
                raise LimitExceeded(f"result larger than {limit} bytes")
            digest.update(chunk.data)
            writer.write(chunk.data)
            claimed = chunk.sha256 or claimed
        if claimed and claimed != digest.hexdigest():
            raise InvalidRequest("uploaded result does not match its sha256")
        return writer.commit()
    except BaseException:
        writer.abort()
        raise
