"""The Semgrep gate inside the coordinator: verdicts cached by hash, failures fail closed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runsurge.errors import ScanUnavailable, ScriptRejected
from runsurge.scan import find_semgrep_core
from tests.integration.cluster import Cluster

BENIGN = "def process(text: str) -> dict:\n    return {'n': len(text)}\n"


def _wrapper(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "semgrep-core-wrapper"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)
    return script


def test_each_script_is_scanned_once_then_served_from_the_cache(
    cluster_factory,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    calls = tmp_path / "calls"
    wrapper = _wrapper(tmp_path, f'echo run >> {calls}\nexec {find_semgrep_core()} "$@"\n')
    cluster: Cluster = cluster_factory(
        coordinator_env={"RUNSURGE_COORDINATOR_SEMGREP_CORE": str(wrapper)}
    )
    cluster.add_contributor()
    with cluster.client() as client:
        for text in ("a", "bb", "ccc"):
            assert client.submit(BENIGN, text).result(timeout=60) == {"n": len(text)}
        assert calls.read_text().count("run") == 1
        other = BENIGN.replace("'n'", "'length'")
        assert client.submit(other, "xy").result(timeout=60) == {"length": 2}
        assert calls.read_text().count("run") == 2
        for _ in range(2):
            with pytest.raises(ScriptRejected):
                client.submit("import socket\n" + BENIGN, "x")
        assert calls.read_text().count("run") == 3


def test_a_broken_semgrep_fails_submissions_closed(cluster_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    wrapper = _wrapper(tmp_path, "echo 'segmentation fault' >&2\nexit 139\n")
    cluster: Cluster = cluster_factory(
        coordinator_env={"RUNSURGE_COORDINATOR_SEMGREP_CORE": str(wrapper)}
    )
    with cluster.client() as client:
        with pytest.raises(ScanUnavailable, match=r"(?i)semgrep"):
            client.submit(BENIGN, "x")
        assert client.jobs() == []
    assert os.path.exists(wrapper)
