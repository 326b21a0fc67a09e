"""The consumer install at its dependency floors: light, and able to run a real job.

A venv gets exactly the lowest versions pyproject.toml admits for `pip install
runsurge` (scripts/dependency_floors.py), and nothing of the coordinator or
contributor extras. Its SDK and CLI then talk to a real cluster run from the
development venv. A floor that is not true fails here, not on a user's machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import IN_CI
from tests.integration.cluster import Cluster

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import dependency_floors  # noqa: E402

EXAMPLES = ROOT / "examples"
ROLE_PACKAGES = ("sqlalchemy", "alembic", "psycopg", "psutil", "pyseccomp", "semgrep")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def floor_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The python of a venv holding the base requirements at their floors."""
    target = tmp_path_factory.mktemp("floors") / "venv"
    try:
        return dependency_floors.build(target, extras=[])
    except dependency_floors.FloorInstallFailed as exc:
        if exc.offline and not IN_CI:
            pytest.skip(f"the package index is unreachable: {exc}")
        pytest.fail(f"the dependency floors do not install together: {exc}")


@pytest.fixture
def sqlite_cluster(tmp_path: Path) -> Iterator[Cluster]:
    cluster = Cluster(root=tmp_path, db_url=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    try:
        cluster.start_fresh_coordinator()
        cluster.add_contributor()
        yield cluster
    finally:
        cluster.stop()


def run(
    python: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    # Run outside the checkout so nothing is imported from the working directory by accident.
    return subprocess.run(
        [str(python), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd="/",
        env=env or {k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )


def installed(python: Path) -> dict[str, str]:
    listing = run(python, "-m", "pip", "list", "--format=json", "--disable-pip-version-check")
    assert listing.returncode == 0, listing.stderr
    return {p["name"].lower(): p["version"] for p in json.loads(listing.stdout)}


def test_floor_venv_holds_exactly_the_floors_and_no_role_packages(floor_python: Path) -> None:
    versions = installed(floor_python)
    for pin in dependency_floors.floor_pins(ROOT / "pyproject.toml", []):
        name, version = pin.split("==")
        assert versions[name.lower()].startswith(version), (pin, versions[name.lower()])
    assert not [p for p in ROLE_PACKAGES if p in versions]


def test_consumer_import_loads_neither_sandbox_nor_scanner(floor_python: Path) -> None:
    probe = (
        "import sys, runsurge.client; "
        "print('\\n'.join(sorted(m for m in sys.modules if m.startswith('runsurge'))))"
    )
    done = run(floor_python, "-c", probe)
    assert done.returncode == 0, done.stderr
    loaded = set(done.stdout.split())
    heavy = {
        m
        for m in loaded
        if m.startswith(("runsurge.coordinator", "runsurge.contributor", "runsurge.store"))
        or (m.startswith("runsurge.sandbox.") and m != "runsurge.sandbox.policy")
        or (m.startswith("runsurge.scan.") and m != "runsurge.scan.findings")
    }
    assert "runsurge.client" in loaded
    assert heavy == set()


def test_sdk_at_the_floors_runs_a_job_on_a_real_cluster(
    floor_python: Path, sqlite_cluster: Cluster
) -> None:
    program = (
        "import json, sys\n"
        "from runsurge.client import Client\n"
        "with Client(sys.argv[1], sys.argv[2]) as client:\n"
        "    job = client.submit(sys.argv[3], 'one two\\nthree')\n"
        "    print(json.dumps(job.result(timeout=60)))\n"
    )
    done = run(
        floor_python,
        "-c",
        program,
        sqlite_cluster.address,
        sqlite_cluster.consumer_token,
        str(EXAMPLES / "wordcount.py"),
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"lines": 2, "words": 3}


def test_cli_at_the_floors_submits_and_waits(floor_python: Path, sqlite_cluster: Cluster) -> None:
    env = {k: v for k, v in sqlite_cluster.env.items() if k != "PYTHONPATH"}
    done = run(
        floor_python,
        "-m",
        "runsurge",
        "submit",
        str(EXAMPLES / "wordcount.py"),
        str(EXAMPLES / "input.txt"),
        "--wait",
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"lines": 3, "words": 17}


@pytest.mark.parametrize(
    ("role", "extra"), [("coordinator", "coordinator"), ("contributor", "contributor")]
)
def test_role_command_without_its_extra_names_the_extra(
    floor_python: Path, tmp_path: Path, role: str, extra: str
) -> None:
    env = dict(
        {k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        RUNSURGE_HOME=str(tmp_path),
        RUNSURGE_CONTRIBUTOR_TOKEN="x",
    )
    done = run(floor_python, "-m", "runsurge", role, env=env)
    assert done.returncode == 2, done.stderr
    assert f"pip install 'runsurge[{extra}]'" in done.stderr
    assert "Traceback" not in done.stderr
