"""A 100 MB input through the input pipe (``feed.py``), cold and warm, in every runner.

The harness never holds the input file (its descriptor's link would name the host
path, issue 15 defect 6): the agent splices it into a pipe as the harness reads.
This checks that a large input still arrives whole, and that the agent does not
hold it in memory on the way.
"""

from __future__ import annotations

import hashlib
import json
import resource
from pathlib import Path

from runsurge.sandbox import Entrypoint, OutcomeKind, RunRequest, SandboxPolicy, TaskRunner
from runsurge.sandbox.policy import MiB

SIZE = 100 * MiB
POLICY = SandboxPolicy(memory_bytes=768 * MiB, cpu_seconds=30.0, wall_seconds=30.0)
DIGEST = """\
import hashlib


def process(data):
    return {"length": len(data), "sha256": hashlib.sha256(data.encode()).hexdigest()}
"""


def _write_input(path: Path) -> str:
    """100 MB of text, written and hashed in 1 MiB chunks (never whole in this process)."""
    digest = hashlib.sha256()
    with path.open("wb") as f:
        for n in range(SIZE // MiB):
            chunk = (f"{n:07d}" + "abcdefgh" * (MiB // 8))[:MiB].encode()
            f.write(chunk)
            digest.update(chunk)
    return digest.hexdigest()


def _max_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def test_a_100_mb_input_arrives_whole_cold_and_warm_without_the_agent_holding_it(
    runner: TaskRunner, tmp_path: Path
) -> None:
    script = tmp_path / "digest.py"
    script.write_text(DIGEST)
    data = tmp_path / "input.txt"
    expected = {"length": SIZE, "sha256": _write_input(data)}
    peak_before = _max_rss_bytes()
    cold = runner.run(RunRequest(script, data, POLICY))
    session = runner.open_session(script, Entrypoint.PROCESS, POLICY)
    try:
        warm = [session.run(data, POLICY) for _ in range(2)]
    finally:
        session.close()
    for outcome in (cold, *warm):
        assert outcome.kind is OutcomeKind.OK, outcome
        assert json.loads(outcome.result_json or "{}") == expected
    # The agent's own peak did not grow by anything like the input (ru_maxrss only rises).
    assert _max_rss_bytes() - peak_before < 32 * MiB, (peak_before, _max_rss_bytes())
