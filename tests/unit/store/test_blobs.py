"""The directory blob store: content addressing, streaming writes, atomicity."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from runsurge.errors import InvalidRequest, NotFound
from runsurge.store.blobs import DirectoryBlobStore


def test_put_names_blobs_by_sha256_and_reads_them_back(tmp_path: Path) -> None:
    store = DirectoryBlobStore(tmp_path)
    ref = store.put(b"hello")
    assert ref.sha256 == hashlib.sha256(b"hello").hexdigest()
    assert ref.size == 5
    assert store.read(ref.sha256) == b"hello"
    assert store.exists(ref.sha256) and store.size(ref.sha256) == 5


def test_identical_content_is_stored_once(tmp_path: Path) -> None:
    store = DirectoryBlobStore(tmp_path)
    a, b = store.put(b"same"), store.put(b"same")
    assert a == b
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) == 1


def test_streamed_writer_hashes_all_chunks_and_iterates_in_pieces(tmp_path: Path) -> None:
    store = DirectoryBlobStore(tmp_path)
    writer = store.writer()
    data = bytes(range(256)) * 10_000
    for i in range(0, len(data), 7_777):
        writer.write(data[i : i + 7_777])
    ref = writer.commit()
    assert ref.sha256 == hashlib.sha256(data).hexdigest()
    pieces = list(store.iter_chunks(ref.sha256, chunk_size=100_000))
    assert b"".join(pieces) == data
    assert max(len(p) for p in pieces) == 100_000


def test_aborted_writer_leaves_nothing(tmp_path: Path) -> None:
    store = DirectoryBlobStore(tmp_path)
    writer = store.writer()
    writer.write(b"partial")
    writer.abort()
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_missing_blob_is_not_found_and_bad_names_are_refused(tmp_path: Path) -> None:
    store = DirectoryBlobStore(tmp_path)
    with pytest.raises(NotFound):
        store.read("0" * 64)
    for bad in ("../../etc/passwd", "A" * 64, "abc"):
        with pytest.raises(InvalidRequest):
            store.exists(bad)
