"""The hostile corpus through a real coordinator and agent: contained, and the agent goes on.

The coordinator runs with --skip-scan here: this tests the second line of defence
(the sandbox) as an agent really uses it, with the limits the coordinator assigns.
All attacks are submitted at once, so they also run side by side on the agent.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runsurge.contributor.warm import WarmPool
from runsurge.sandbox.outcome import OutcomeKind
from tests.hostile.cases import CASES, HOSTILE_POLICY, SECRET_ENV, HostContext
from tests.integration.cluster import Cluster

# The sandbox holds the same whatever stores the coordinator's state.
pytestmark = pytest.mark.database_independent

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
# Through the coordinator, a task killed for memory is retried with more memory until the
# largest reservation; the final word is still OUT_OF_MEMORY.
AGENT_MEMORY = "256MiB"


@pytest.fixture
def hostile_cluster(tmp_path: Path, db_url: str) -> Iterator[Cluster]:
    policy = HOSTILE_POLICY
    cluster = Cluster(
        root=tmp_path / "cluster",
        db_url=db_url,
        skip_scan=True,
        coordinator_env={
            "RUNSURGE_COORDINATOR_TASK_MEMORY_BYTES": str(policy.memory_bytes),
            "RUNSURGE_COORDINATOR_TASK_WALL_SECONDS": str(policy.wall_seconds),
            "RUNSURGE_COORDINATOR_TASK_CPU_SECONDS": str(policy.cpu_seconds),
            "RUNSURGE_COORDINATOR_TASK_PIDS": str(policy.pids),
            "RUNSURGE_COORDINATOR_TASK_MAX_OUTPUT_BYTES": str(policy.max_output_bytes),
            "RUNSURGE_COORDINATOR_TASK_MAX_LOG_BYTES": str(policy.max_log_bytes),
            "RUNSURGE_COORDINATOR_TASK_WORKDIR_BYTES": str(policy.workdir_bytes),
        },
        contributor_env=dict(SECRET_ENV),
    )
    cluster.root.mkdir()
    cluster.start_fresh_coordinator()
    cluster.add_contributor(cores=2, memory=AGENT_MEMORY)
    try:
        yield cluster
    finally:
        cluster.stop()


def test_hostile_corpus_is_contained_by_a_real_agent(
    hostile_cluster: Cluster, tmp_path: Path
) -> None:
    (tmp_path / "host").mkdir()
    ctx = HostContext.create(tmp_path / "host")
    try:
        with hostile_cluster.client() as client:
            jobs = {
                case.name: client.submit(case.script, case.build_input(ctx), name=case.name)
                for case in CASES
            }
            failures = []
            for case in CASES:
                try:
                    _verify(case, jobs[case.name].wait(timeout=180), ctx)
                except AssertionError as exc:
                    failures.append(f"{case.name}: {exc}")
            assert not failures, "\n".join(failures)
            # The agent keeps a job's sandbox warm for its next input a few seconds;
            # once released, nothing of any attack may be left on the host.
            time.sleep(WarmPool(max_idle=1).idle_seconds + 2.5)
            for case in CASES:
                ctx.label = f"job={jobs[case.name].id}"
                try:
                    case.check(ctx)
                except AssertionError as exc:
                    failures.append(f"{case.name}: {exc}")
            assert not failures, "\n".join(failures)
            # The same agent still runs a benign task correctly.
            benign = client.submit(EXAMPLES / "wordcount.py", "one two\nthree")
            assert benign.result(timeout=60) == {"lines": 2, "words": 3}
            assert hostile_cluster.contributors[0].poll() is None, "the agent died"
    finally:
        ctx.close()


def _verify(case, status, ctx: HostContext) -> None:  # type: ignore[no-untyped-def]
    detail = f"{status.state} {status.error}"
    if case.expected is OutcomeKind.OK:
        assert status.state == "SUCCEEDED", detail
        if case.check_result is not None:
            case.check_result(status.result, ctx)
    else:
        assert status.state == "FAILED", detail
        assert status.error is not None and status.error.kind == case.expected.value, detail
        if case.error_type is not None:
            assert status.error.type == case.error_type, detail
