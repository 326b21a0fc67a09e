"""Engine, migrations and transactions for the coordinator's database.

SQLite in the data directory by default, PostgreSQL by URL. Domain code is plain
synchronous SQLAlchemy taking a Session; the asyncio servicers reach it through
`Database.run`, which runs one function in one transaction on a worker thread so the
event loop never blocks on the database.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")
P = ParamSpec("P")
MIGRATIONS = Path(__file__).parent / "migrations"


def sqlite_url(data_dir: Path) -> str:
    """The default database: one SQLite file in the data directory."""
    return f"sqlite:///{data_dir / 'coordinator.sqlite3'}"


def normalise_url(url: str) -> str:
    """Accept postgres:// and postgresql:// URLs and route them to psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_db_engine(url: str) -> Engine:
    """An engine with the per-dialect settings RunSurge relies on."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_size=8, max_overflow=8, pool_pre_ping=True)


def alembic_config() -> Config:
    """Alembic configuration pointing at the migrations shipped in the package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent)."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


class Database:
    """The coordinator's handle on its database: sessions, and async access to them."""

    def __init__(self, url: str, *, threads: int = 4) -> None:
        self.url = normalise_url(url)
        self.engine = create_db_engine(self.url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite allows one writer at a time; more threads would only queue on its lock.
        workers = 1 if self.url.startswith("sqlite") else threads
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="db")

    def migrate(self) -> None:
        """Apply pending migrations."""
        migrate(self.engine)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work is committed on success and rolled back on error."""
        with self._sessions() as session, session.begin():
            yield session

    def call(
        self, fn: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run `fn(session, *args, **kwargs)` in one transaction, synchronously."""
        with self.transaction() as session:
            return fn(session, *args, **kwargs)

    async def run(
        self, fn: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run `fn(session, *args, **kwargs)` in one transaction on a database thread.

        Typed with ParamSpec, so mypy checks the arguments against `fn`'s signature.
        """
        loop = asyncio.get_running_loop()
        call = functools.partial(self.call, fn, *args, **kwargs)
        return await loop.run_in_executor(self._executor, call)

    def close(self) -> None:
        """Release the thread pool and the connections."""
        self._executor.shutdown(wait=True)
        self.engine.dispose()
