"""Input mistakes stop a submission with a message naming the input, never as gRPC's
"Exception iterating requests!", and the coordinator goes on serving the next job."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from runsurge.errors import InvalidInput
from tests.integration.cluster import Cluster

# SQLite only: what it checks is how the client reads inputs and reports failing ones;
# the storage it touches is tested on both databases.
pytestmark = pytest.mark.database_independent


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
WORDCOUNT = str(EXAMPLES / "wordcount.py")
INPUT = EXAMPLES / "input.txt"
# Opens like any file, then every read fails (EIO), whoever runs the test: an input
# that breaks in the middle of the upload.
BREAKS_WHILE_READ = Path("/proc/self/mem")


def _refused(cluster: Cluster, *args: str, naming: str) -> None:
    run = cluster.cli("submit", WORDCOUNT, *args)
    assert run.returncode == 2, (run.returncode, run.stderr)
    assert naming in run.stderr, run.stderr
    assert "Exception iterating requests" not in run.stderr
    assert "Traceback" not in run.stderr


def _still_serves(cluster: Cluster) -> None:
    run = cluster.cli("submit", WORDCOUNT, str(INPUT), "--wait")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"lines": 3, "words": 17}


def test_a_missing_input_file_exits_2_naming_it(cluster: Cluster, tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    _refused(cluster, str(missing), naming=f"cannot read input {missing}: No such file")
    _refused(cluster, str(INPUT), str(missing), "-a", "words=sum", naming=str(missing))
    _refused(cluster, str(missing), "--split-lines", "2", naming=str(missing))
    assert cluster.cli("jobs", "--json").stdout.count('"id"') == 0  # nothing was sent
    _still_serves(cluster)


def test_a_pattern_or_directory_without_files_exits_2_naming_it(
    cluster: Cluster, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "subdir").mkdir()  # a directory holds no input
    pattern = str(tmp_path / "*.csv")
    _refused(cluster, "--inputs-glob", pattern, naming=f"--inputs-glob {pattern!r} matches no file")
    _refused(cluster, "--inputs-dir", str(empty), naming=f"--inputs-dir {empty} contains no files")
    absent = tmp_path / "absent"
    _refused(cluster, "--inputs-dir", str(absent), naming=f"--inputs-dir {absent} is not a dir")
    _refused(cluster, str(empty), naming=f"input {empty} is not a file")
    _still_serves(cluster)


def test_an_unreadable_input_exits_2_naming_it(cluster: Cluster, tmp_path: Path) -> None:
    _refused(cluster, str(BREAKS_WHILE_READ), naming=f"cannot read input {BREAKS_WHILE_READ}")
    _refused(
        cluster, str(INPUT), str(BREAKS_WHILE_READ), "-a", "words=sum",
        naming=f"cannot read input {BREAKS_WHILE_READ}: Input/output error",
    )  # fmt: skip
    broken = tmp_path / "latin1.txt"  # fails on line 5, after two inputs were sent
    broken.write_bytes(b"a\nb\nc\nd\ncaf\xe9\n")
    _refused(cluster, str(broken), "--split-lines", "2", naming=f"{broken} is not UTF-8 text")
    if os.geteuid() != 0:  # root reads files whatever their mode
        locked = tmp_path / "locked.txt"
        locked.write_text("secret")
        locked.chmod(0)
        _refused(cluster, str(locked), naming=f"cannot read input {locked}: Permission denied")
    _still_serves(cluster)


def test_the_sdk_names_an_input_it_cannot_read(cluster: Cluster, tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    with cluster.client() as client:
        with pytest.raises(InvalidInput, match=f"cannot read input {missing}: No such file"):
            client.submit(WORDCOUNT, missing)
        with pytest.raises(InvalidInput, match=f"cannot read input {missing}"):
            client.submit_group(WORDCOUNT, [INPUT, missing])
        assert client.jobs() == []  # both refused before anything was sent
        with pytest.raises(InvalidInput, match=f"cannot read input {missing}"):
            client.submit_group(WORDCOUNT, (p for p in [INPUT, missing]))
        with pytest.raises(InvalidInput, match=f"cannot read input {BREAKS_WHILE_READ}"):
            client.submit(WORDCOUNT, BREAKS_WHILE_READ)
        assert client.submit(WORDCOUNT, INPUT).result() == {"lines": 3, "words": 17}


def test_an_error_raised_by_an_input_generator_reaches_the_caller_as_itself(
    cluster: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    class SourceBroke(Exception):
        pass

    def inputs() -> Iterator[str]:
        yield "one two"
        yield "three"
        raise SourceBroke("the upstream feed closed")

    with cluster.client() as client:
        with caplog.at_level(logging.ERROR), pytest.raises(SourceBroke, match="feed closed"):
            client.submit_group(WORDCOUNT, inputs(), aggregate="words=sum")
        assert "Exception iterating requests" not in caplog.text
        # The call was cancelled, not ended: the half-sent group is dropped (not created,
        # or failed, depending on how far the coordinator got), never run with two inputs.
        assert [j.state for j in client.jobs() if j.state != "FAILED"] == []
        job = client.submit_group(WORDCOUNT, ["a b", "c"], aggregate="words=sum")
        assert job.result() == {"words": 3}
