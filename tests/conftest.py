"""Shared fixtures: database backends (SQLite always, PostgreSQL when reachable)."""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

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


def _create_database(template: str | None = None) -> str:
    """A new PostgreSQL database (a copy of `template` when given); its URL."""
    name = f"rs_test_{uuid.uuid4().hex[:12]}"
    with _pg_admin_connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"


def _drop_database(url: str) -> None:
    with _pg_admin_connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    need_postgres()
    url = _create_database()
    try:
        yield url
    finally:
        _drop_database(url)


def _migrate(url: str) -> None:
    from runsurge.store.database import Database

    database = Database(url)
    try:
        database.migrate()
    finally:
        database.close()  # a template must have no connection left when it is copied


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to the newest revision once per worker, copied per test."""
    path = tmp_path_factory.mktemp("template") / "migrated.sqlite3"
    _migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def migrated_postgres() -> Iterator[str]:
    """A PostgreSQL database migrated once per worker: the template of each test's.

    Migrating costs about a second a test; copying a template costs a tenth of that.
    """
    need_postgres()
    url = _create_database()
    try:
        _migrate(url)
        yield url.rsplit("/", 1)[1]
    finally:
        _drop_database(url)


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Each database-backed test runs once on SQLite and once on PostgreSQL.

    The database is new and already migrated to the newest revision (migrating it
    again is a no-op); tests of the migrations themselves take `empty_db_url`.
    """
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "test.sqlite3"
        template = request.getfixturevalue("migrated_sqlite")
        with sqlite3.connect(template) as source, sqlite3.connect(path) as copy:
            source.backup(copy)
        yield f"sqlite:///{path}"
        return
    url = _create_database(template=request.getfixturevalue("migrated_postgres"))
    try:
        yield url
    finally:
        _drop_database(url)


@pytest.fixture(params=["sqlite", "postgres"])
def empty_db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A new database with no schema at all, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'empty.sqlite3'}"
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
        params = callspec.params if callspec is not None else {}
        twice = "postgres" in (params.get("db_url"), params.get("empty_db_url"))
        if twice and item.get_closest_marker("database_independent"):
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
