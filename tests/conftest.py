"""Shared fixtures: database backends (SQLite always, PostgreSQL when reachable)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

PG_ADMIN_URL = os.environ.get("RUNSURGE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _pg_admin_connect():  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)


def postgres_available() -> str | None:
    """None if PostgreSQL answers, else the reason it does not."""
    try:
        with _pg_admin_connect() as conn:
            conn.execute("SELECT 1")
        return None
    except Exception as exc:
        return f"PostgreSQL at {PG_ADMIN_URL} unreachable: {exc}"


def need_postgres() -> None:
    """Skip locally without PostgreSQL; fail on CI, where it must be there."""
    reason = postgres_available()
    if reason is None:
        return
    if IN_CI:
        pytest.fail(reason + " (CI=true: PostgreSQL is required)")
    pytest.skip(reason)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    need_postgres()
    name = f"rs_test_{uuid.uuid4().hex[:12]}"
    with _pg_admin_connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with _pg_admin_connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Each database-backed test runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "test.sqlite3"
        return f"sqlite:///{path}"
    return str(request.getfixturevalue("postgres_url"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run tests marked database_independent on SQLite only.

    They test the sandbox, the agent or the wire through a real cluster; the storage
    paths they touch are tested on both databases by their own tests, and running them
    twice would only spend CI time (a full run must stay under 20 minutes on 2 cores).
    """
    kept, dropped = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        twice = callspec is not None and callspec.params.get("db_url") == "postgres"
        if twice and item.get_closest_marker("database_independent"):
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
