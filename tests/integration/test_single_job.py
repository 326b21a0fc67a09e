"""A single job end to end: SDK → coordinator → contributor sandbox → result, over gRPC."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runsurge.errors import InvalidInput, InvalidRequest, JobFailed, NotFound, ScriptRejected
from tests.integration.cluster import Cluster

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
WORDCOUNT = EXAMPLES / "wordcount.py"


def local_wordcount(text: str) -> dict[str, int]:
    namespace: dict[str, object] = {}
    exec(compile(WORDCOUNT.read_text(), str(WORDCOUNT), "exec"), namespace)
    return namespace["process"](text)  # type: ignore[operator,no-any-return]


def test_documented_example_returns_the_local_result(cluster: Cluster) -> None:
    text = (EXAMPLES / "input.txt").read_text()
    with cluster.client() as client:
        job = client.submit(WORDCOUNT, text)
        assert job.result(timeout=60) == local_wordcount(text)
        status = job.status()
    assert status.state == "SUCCEEDED"
    assert status.tasks.succeeded == 1 and status.tasks.total == 1
    assert status.finished_at is not None


def test_inputs_from_path_string_and_file_object(cluster: Cluster, tmp_path: Path) -> None:
    data = tmp_path / "in.txt"
    data.write_text("a b c\nd\n")
    with cluster.client() as client, data.open("rb") as handle:
        jobs = [
            client.submit(WORDCOUNT, data),
            client.submit(WORDCOUNT.read_text(), "a b c\nd\n"),
            client.submit(str(WORDCOUNT), handle),
        ]
        results = [job.result(timeout=60) for job in jobs]
    assert results == [{"lines": 2, "words": 4}] * 3


def test_large_input_and_result_are_streamed(cluster: Cluster) -> None:
    script = (
        "def process(input_data: str) -> dict:\n"
        "    return {'n': len(input_data), 'echo': input_data[:3_000_000]}\n"
    )
    text = "x" * (5 * 1024 * 1024 + 17)  # several 1 MiB chunks each way
    with cluster.client() as client:
        result = client.submit(script, text).result(timeout=120)
    assert result["n"] == len(text)
    assert result["echo"] == text[:3_000_000]


@pytest.mark.database_independent
def test_syntax_error_is_refused_at_submission_with_its_line(cluster: Cluster) -> None:
    with cluster.client() as client, pytest.raises(InvalidRequest, match=r"syntax error at line 2"):
        client.submit("def process(x):\n    return {'a': (}\n", "in")


@pytest.mark.database_independent
def test_missing_process_is_refused(cluster: Cluster) -> None:
    with cluster.client() as client, pytest.raises(InvalidRequest, match=r"no function `process`"):
        client.submit("def handle(x):\n    return {}\n", "in")


@pytest.mark.database_independent
@pytest.mark.parametrize(
    "signature", ["def process():", "def process(a, b):", "def process(*, data):"]
)
def test_wrong_signature_is_refused(cluster: Cluster, signature: str) -> None:
    with cluster.client() as client, pytest.raises(InvalidRequest, match="exactly one positional"):
        client.submit(f"{signature}\n    return {{}}\n", "in")


@pytest.mark.database_independent
def test_raising_process_reports_type_message_and_traceback(cluster: Cluster) -> None:
    script = (
        "def helper(text):\n"
        "    raise ValueError(f'cannot parse {text!r}')\n"
        "\n"
        "def process(input_data: str) -> dict:\n"
        "    return helper(input_data)\n"
    )
    with cluster.client() as client:
        job = client.submit(script, "oops", name="raiser")
        status = job.wait(timeout=60)
        with pytest.raises(JobFailed, match="ValueError: cannot parse 'oops'"):
            job.result()
    assert status.state == "FAILED"
    assert status.error is not None
    assert (status.error.kind, status.error.type) == ("SCRIPT_ERROR", "ValueError")
    assert status.error.message == "cannot parse 'oops'"
    assert "line 2, in helper" in status.error.traceback
    assert "line 5, in process" in status.error.traceback


@pytest.mark.database_independent
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("return [1, 2]", "must return a dict, not list"),
        ("return {'when': object()}", "not JSON"),
        ("return {'x': float('nan')}", "not JSON"),
    ],
)
def test_bad_return_values_are_reported(cluster: Cluster, body: str, expected: str) -> None:
    with cluster.client() as client:
        status = client.submit(f"def process(input_data):\n    {body}\n", "in").wait(timeout=60)
    assert status.state == "FAILED"
    assert status.error is not None
    assert status.error.type == "InvalidResult"
    assert expected in status.error.message


@pytest.mark.database_independent
def test_non_utf8_input_is_refused_and_nothing_runs(cluster: Cluster) -> None:
    with cluster.client() as client:
        with pytest.raises(InvalidInput, match=r"not valid UTF-8 \(byte 3\)"):
            client.submit(WORDCOUNT, b"abc\xff\xfe")
        before = len(client.jobs())
        # The coordinator and contributor go on serving.
        assert client.submit(WORDCOUNT, "ok").result(timeout=60) == {"lines": 1, "words": 1}
        assert len(client.jobs()) == before + 1


def test_unknown_job_id_is_not_found(cluster: Cluster) -> None:
    with cluster.client() as client, pytest.raises(NotFound, match="no job with id 'nope'"):
        client.job("nope")


@pytest.mark.database_independent
def test_dangerous_script_is_rejected_with_findings(cluster: Cluster) -> None:
    script = (
        "import subprocess\n\ndef process(x):\n    return {'o': subprocess.check_output(['id'])}\n"
    )
    with cluster.client() as client:
        with pytest.raises(ScriptRejected) as info:
            client.submit(script, "in")
        assert client.jobs() == []  # nothing stored for a refused script
    finding = info.value.findings[0]
    assert finding.rule_id.startswith("runsurge.process.")
    assert (finding.line, finding.source_line.strip()) == (1, "import subprocess")


def test_another_consumers_token_is_refused(cluster: Cluster) -> None:
    from runsurge.client import Client
    from runsurge.errors import RunSurgeError

    with (
        Client(cluster.address, "rsc_not-a-token") as client,
        pytest.raises(RunSurgeError, match="unknown consumer token"),
    ):
        client.jobs()


def test_job_listing_shows_the_newest_first(cluster: Cluster) -> None:
    with cluster.client() as client:
        first = client.submit(WORDCOUNT, "a", name="first")
        second = client.submit(WORDCOUNT, "b", name="second")
        second.wait(timeout=60)
        first.wait(timeout=60)
        listed = [j.name for j in client.jobs()]
    assert listed[:2] == ["second", "first"]


def test_results_survive_as_json(cluster: Cluster) -> None:
    script = "def process(s):\n    return {'unicode': s, 'nested': {'k': [1, 2.5, None, True]}}\n"
    with cluster.client() as client:
        result = client.submit(script, "héllo ✓").result(timeout=60)
    assert json.dumps(result, sort_keys=True) == json.dumps(
        {"nested": {"k": [1, 2.5, None, True]}, "unicode": "héllo ✓"}, sort_keys=True
    )
