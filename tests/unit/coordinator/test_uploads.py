"""Result uploads: streamed into the blob store, checked against their hash and size."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import pytest

from runsurge.coordinator.uploads import UploadChunk, receive_result
from runsurge.errors import InvalidRequest, LimitExceeded
from runsurge.store.blobs import BlobRef, DirectoryBlobStore


def _upload(
    blobs: DirectoryBlobStore, pieces: Iterable[bytes], claimed: str = "", limit: int = 1 << 20
) -> BlobRef:
    async def chunks() -> AsyncIterator[UploadChunk]:
        items = list(pieces)
        for i, data in enumerate(items):
            yield UploadChunk(data, claimed if i == len(items) - 1 else "")

    return asyncio.run(receive_result(blobs, chunks(), limit))


def _stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_upload_is_stored_under_the_hash_of_all_its_chunks(blobs: DirectoryBlobStore) -> None:
    pieces = [b'{"part": "', b"x" * 5000, b'"}']
    whole = b"".join(pieces)
    sha = hashlib.sha256(whole).hexdigest()

    ref = _upload(blobs, pieces, claimed=sha)

    assert ref == BlobRef(sha, len(whole))
    assert blobs.read(sha) == whole


def test_upload_without_a_claimed_hash_is_stored_as_received(blobs: DirectoryBlobStore) -> None:
    ref = _upload(blobs, [b"{}"])

    assert blobs.read(ref.sha256) == b"{}"


def test_upload_whose_hash_does_not_match_is_refused_and_leaves_nothing(
    blobs: DirectoryBlobStore, tmp_path: Path
) -> None:
    with pytest.raises(InvalidRequest, match="does not match its sha256"):
        _upload(blobs, [b"{}"], claimed=hashlib.sha256(b"other").hexdigest())

    assert _stored_files(tmp_path) == []


def test_upload_over_the_limit_is_refused_and_leaves_nothing(
    blobs: DirectoryBlobStore, tmp_path: Path
) -> None:
    with pytest.raises(LimitExceeded, match="larger than 100 bytes"):
        _upload(blobs, [b"a" * 60, b"b" * 60], limit=100)

    assert _stored_files(tmp_path) == []


def test_upload_broken_off_by_the_agent_leaves_nothing(
    blobs: DirectoryBlobStore, tmp_path: Path
) -> None:
    async def breaking() -> AsyncIterator[UploadChunk]:
        yield UploadChunk(b"partial")
        raise ConnectionResetError("stream broke")

    with pytest.raises(ConnectionResetError):
        asyncio.run(receive_result(blobs, breaking()))

    assert _stored_files(tmp_path) == []
