"""`runsurge run`: one task run here, through the contributor's harness, without a coordinator."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

MiB = 1024 * 1024
WORDS = (
    "def process(input_data):\n"
    "    print('counting')\n"
    "    return {'words': len(input_data.split())}\n"
)


def _run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runsurge", "run", *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
    )


def _script(tmp_path: Path, source: str) -> str:
    path = tmp_path / "script.py"
    path.write_text(source)
    return str(path)


def test_a_result_goes_to_stdout_and_the_scripts_output_to_stderr(tmp_path: Path) -> None:
    run = _run(_script(tmp_path, WORDS), "-", stdin="one two three")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"words": 3}
    assert "counting" in run.stderr
    assert "OK in" in run.stderr


def test_json_reports_outcome_usage_logs_and_the_sandbox_it_ran_in(tmp_path: Path) -> None:
    data = tmp_path / "in.txt"
    data.write_text("a b")
    run = _run(_script(tmp_path, WORDS), str(data), "--json")
    report = json.loads(run.stdout)
    assert report["outcome"] == "OK" and report["result"] == {"words": 2}
    assert report["logs"] == "counting\n"
    assert report["usage"]["peak_memory_bytes"] > 0
    assert report["isolation"].startswith("bubblewrap+cgroup")  # this host sandboxes


def test_a_failing_script_exits_1_with_its_traceback(tmp_path: Path) -> None:
    script = _script(
        tmp_path, "def process(input_data):\n    raise ValueError('no ' + input_data)\n"
    )
    run = _run(script, "-", stdin="luck")
    assert run.returncode == 1
    assert "ValueError: no luck" in run.stderr
    assert 'File "/task/script.py", line 2' in run.stderr  # the sandbox's path, not the host's


def test_the_tasks_limits_apply_as_on_a_contributor(tmp_path: Path) -> None:
    hog = "def process(input_data):\n    block = b'x' * (200 * 1024 * 1024)\n    return {}\n"
    run = _run(_script(tmp_path, hog), "-", "--memory", "64MiB", "--json", stdin="")
    assert run.returncode == 1
    assert json.loads(run.stdout)["outcome"] == "OUT_OF_MEMORY"


def test_a_script_the_coordinator_would_refuse_is_refused_before_it_runs(tmp_path: Path) -> None:
    no_process = _run(_script(tmp_path, "def handle(x):\n    return {}\n"), "-", stdin="")
    assert no_process.returncode == 1
    assert "refused" in no_process.stderr
    shell = "import os\ndef process(input_data):\n    os.system('true')\n    return {}\n"
    unscanned = _run(_script(tmp_path, shell), "-", "--json", stdin="")
    assert unscanned.returncode == 0  # runs without --scan: the sandbox holds it
    scanned = _run(_script(tmp_path, shell), "-", "--scan", stdin="")
    assert scanned.returncode == 1
    assert "runsurge.process.os-system" in scanned.stderr


def test_an_unreadable_input_is_a_usage_error(tmp_path: Path) -> None:
    run = _run(_script(tmp_path, WORDS), str(tmp_path / "missing.txt"))
    assert run.returncode == 2
    assert "cannot read the input" in run.stderr
    assert "Traceback" not in run.stderr
