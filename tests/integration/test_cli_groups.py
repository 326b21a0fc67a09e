"""Groups from the command line: input sources, aggregation, progress, per-input output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.cluster import Cluster

# SQLite only: what it checks is the CLI's input sources and output;
# the storage it touches is tested on both databases.
pytestmark = pytest.mark.database_independent


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
WORDCOUNT = str(EXAMPLES / "wordcount.py")


def _files(root: Path, texts: list[str]) -> list[Path]:
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, text in enumerate(texts):
        path = root / f"part-{i:03d}.txt"
        path.write_text(text)
        paths.append(path)
    return paths


def test_many_inputs_with_reducers_print_the_aggregate(cluster: Cluster, tmp_path: Path) -> None:
    paths = _files(tmp_path / "in", ["a b\nc", "d", "e f g"])
    run = cluster.cli(
        "submit", WORDCOUNT, *map(str, paths), "--aggregate", "words=sum", "-a", "lines=sum",
        "--wait",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"words": 7, "lines": 4}
    assert "3/3" in run.stderr  # the progress bar's final state


def test_inputs_dir_glob_and_split_lines(cluster: Cluster, tmp_path: Path) -> None:
    _files(tmp_path / "dir", ["one", "two words", "three more words"])
    by_dir = cluster.cli(
        "submit", WORDCOUNT, "--inputs-dir", str(tmp_path / "dir"), "-a", "words=sum", "--wait"
    )
    assert json.loads(by_dir.stdout) == {"words": 6}, by_dir.stderr
    by_glob = cluster.cli(
        "submit", WORDCOUNT, "--inputs-glob", str(tmp_path / "dir" / "*-00[12].txt"),
        "-a", "words=sum", "-a", "*=count", "--wait",
    )  # fmt: skip
    assert json.loads(by_glob.stdout) == {"words": 5, "count": 2}, by_glob.stderr
    big = tmp_path / "big.txt"
    big.write_text("".join(f"line {i}\n" for i in range(95)))
    split = cluster.cli(
        "submit", WORDCOUNT, str(big), "--split-lines", "10", "-a", "lines=collect", "--wait"
    )
    assert json.loads(split.stdout) == {"lines": [10] * 9 + [5]}, split.stderr


def test_per_input_results_and_failures(cluster: Cluster, tmp_path: Path) -> None:
    script = tmp_path / "picky.py"
    script.write_text(
        "def process(s):\n    if 'bad' in s:\n        raise ValueError('bad input')\n"
        "    return {'len': len(s)}\n"
    )
    paths = _files(tmp_path / "in", ["ok", "bad", "fine"])
    submitted = cluster.cli("submit", str(script), *map(str, paths), "-a", "len=sum", "--json")
    job_id = json.loads(submitted.stdout)["job"]["id"]
    aggregate = cluster.cli("result", job_id)
    assert aggregate.returncode == 0, aggregate.stderr
    assert json.loads(aggregate.stdout) == {"len": 6}
    assert "1 of 3 inputs failed" in aggregate.stderr
    out = tmp_path / "per-input.jsonl"
    per_input = cluster.cli("result", job_id, "--per-input", "--output", str(out))
    assert per_input.returncode == 1  # some input failed
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["index"], r["state"]) for r in lines] == [
        (0, "SUCCEEDED"), (1, "FAILED"), (2, "SUCCEEDED"),
    ]  # fmt: skip
    assert lines[1]["error"]["type"] == "ValueError"
    assert lines[2]["result"] == {"len": 4}
    status = json.loads(cluster.cli("status", job_id, "--json").stdout)["job"]
    assert status["kind"] == "group" and status["aggregate"] == ["len=sum"]
    assert status["tasks"]["failed"] == 1 and status["tasks"]["succeeded"] == 2


def test_fail_fast_exits_1_naming_the_input(cluster: Cluster, tmp_path: Path) -> None:
    script = tmp_path / "boom.py"
    script.write_text("def process(s):\n    raise RuntimeError('boom')\n")
    paths = _files(tmp_path / "in", ["a", "b"])
    run = cluster.cli(
        "submit", str(script), *map(str, paths), "-a", "x=sum", "--on-error", "fail-fast", "--wait"
    )
    assert run.returncode == 1
    assert "FAIL_FAST" in run.stderr and "RuntimeError: boom" in run.stderr


def test_bad_reducer_is_refused_with_the_choices(cluster: Cluster, tmp_path: Path) -> None:
    paths = _files(tmp_path / "in", ["a", "b"])
    run = cluster.cli("submit", WORDCOUNT, *map(str, paths), "-a", "words=median")
    assert run.returncode == 2
    assert "unknown reducer 'median'" in run.stderr and "merge_counts" in run.stderr
