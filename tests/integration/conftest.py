"""Fixtures that start a real cluster per test (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.cluster import Cluster


@pytest.fixture
def cluster_factory(tmp_path: Path, db_url: str) -> Iterator[type[Cluster]]:
    started: list[Cluster] = []

    def make(**kwargs: object) -> Cluster:
        cluster = Cluster(root=tmp_path, db_url=db_url, **kwargs)  # type: ignore[arg-type]
        started.append(cluster)
        cluster.start_fresh_coordinator()
        return cluster

    yield make  # type: ignore[misc]
    for cluster in started:
        cluster.stop()


@pytest.fixture
def cluster(cluster_factory) -> Cluster:  # type: ignore[no-untyped-def]
    """A coordinator with one contributor (one core)."""
    c = cluster_factory()
    c.add_contributor()
    return c
