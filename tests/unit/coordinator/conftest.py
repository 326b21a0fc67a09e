"""Fixtures for the coordinator's domain functions: a migrated database per backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runsurge.store.blobs import DirectoryBlobStore
from runsurge.store.database import Database
from tests.unit.coordinator.scene import Scene


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """A freshly migrated database (SQLite, then PostgreSQL)."""
    database = Database(db_url)
    database.migrate()
    try:
        yield database
    finally:
        database.close()


@pytest.fixture
def blobs(tmp_path: Path) -> DirectoryBlobStore:
    """A real blob store in the test's directory."""
    return DirectoryBlobStore(tmp_path / "blobs")


@pytest.fixture
def scene(db: Database, blobs: DirectoryBlobStore) -> Scene:
    """The database and blob store with helpers to populate them."""
    return Scene(db, blobs)
