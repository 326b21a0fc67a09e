"""Every Python example in docs/sdk.md runs, as written, against a local cluster."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.integration.cluster import Cluster

ROOT = Path(__file__).resolve().parents[2]
SDK_DOC = ROOT / "docs" / "sdk.md"
# A fenced python block, possibly indented under a list item; the closing fence matches.
_BLOCK = re.compile(r"^( *)```python\n(.*?)^\1```", re.MULTILINE | re.DOTALL)


def python_blocks(text: str) -> list[str]:
    """The python code blocks of a Markdown page, dedented."""
    return [textwrap.dedent(body) for _, body in _BLOCK.findall(text)]


def test_the_sdk_page_has_an_example_per_shape() -> None:
    blocks = python_blocks(SDK_DOC.read_text())
    joined = "\n".join(blocks)
    assert len(blocks) >= 5
    for shape in ("client.submit(", "client.submit_group(", "Pool()", "client.map(", "aio.Client("):
        assert shape in joined, shape


@pytest.mark.database_independent
def test_every_sdk_example_runs_against_a_local_cluster(cluster_factory: type[Cluster]) -> None:
    cluster = cluster_factory()
    cluster.add_contributor(cores=2, memory="2GiB")
    for number, code in enumerate(python_blocks(SDK_DOC.read_text()), 1):
        run = subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env=cluster.env,  # RUNSURGE_COORDINATOR and RUNSURGE_TOKEN, as for a user
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert run.returncode == 0, f"example {number} of docs/sdk.md failed:\n{code}\n{run.stderr}"
