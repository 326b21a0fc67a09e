"""The consumer SDK's public surface, pinned, and what importing it costs."""

from __future__ import annotations

import subprocess
import sys

import pytest

import runsurge.aio
import runsurge.client

# Changing this list is an API change: update docs and say so in the changelog.
CLIENT_API = [
    "AsyncResult",
    "Balance",
    "Client",
    "InputResult",
    "Invoice",
    "InvoiceLine",
    "Job",
    "JobFutures",
    "JobStatus",
    "Pool",
    "ResultIterator",
    "TaskCounts",
    "TaskErrorInfo",
    "TaskMemory",
    "TaskOutput",
    "TaskSample",
]

AIO_API = ["AsyncJob", "AsyncJobFutures", "Client"]


def test_client_public_names_are_pinned() -> None:
    assert sorted(runsurge.client.__all__) == CLIENT_API
    for name in CLIENT_API:
        assert getattr(runsurge.client, name).__module__.startswith("runsurge.client")


def test_aio_public_names_are_pinned() -> None:
    assert sorted(runsurge.aio.__all__) == AIO_API
    for name in AIO_API:
        assert getattr(runsurge.aio, name).__module__.startswith("runsurge.client")


def test_the_sync_client_does_not_load_the_asyncio_client() -> None:
    loaded = _modules_loaded_by("import runsurge.client")
    assert not {m for m in loaded if m.startswith("runsurge") and "aio" in m}


def _modules_loaded_by(statement: str) -> set[str]:
    probe = f"{statement}; import sys; print('\\n'.join(sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(done.stdout.split())


@pytest.mark.parametrize("module", ["runsurge.client", "runsurge.aio"])
def test_importing_the_client_loads_no_sandbox_scanner_or_database(module: str) -> None:
    loaded = _modules_loaded_by(f"import {module}")
    heavy = sorted(
        m
        for m in loaded
        if m.split(".")[0] in {"sqlalchemy", "alembic", "psycopg", "psutil", "pyseccomp"}
        or m.startswith(("runsurge.coordinator", "runsurge.contributor", "runsurge.store"))
        or (m.startswith("runsurge.sandbox.") and m != "runsurge.sandbox.policy")
        or (m.startswith("runsurge.scan.") and m != "runsurge.scan.findings")
    )
    assert heavy == []


def test_package_exports_still_resolve_lazily() -> None:
    from runsurge import sandbox, scan

    for package in (sandbox, scan):
        for name in package.__all__:
            assert getattr(package, name) is not None, f"{package.__name__}.{name}"


def test_top_level_package_offers_client_and_pool_without_loading_them() -> None:
    import runsurge

    assert runsurge.__all__ == ["Client", "Pool"]
    assert runsurge.Pool is runsurge.client.Pool and runsurge.Client is runsurge.client.Client
    loaded = _modules_loaded_by("import runsurge")
    assert {m for m in loaded if m.startswith("runsurge")} == {"runsurge"}
