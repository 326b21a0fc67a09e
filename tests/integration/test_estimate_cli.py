"""`runsurge estimate`: the estimator on the consumer's machine, probing in the real sandbox."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

MiB = 1024 * 1024
# Holds every word of its input: its peak grows with the input.
WORDS = "def process(input_data):\n    words = input_data.split()\n    return {'n': len(words)}\n"


def _estimate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runsurge", "estimate", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_estimate_of_a_growing_script_bounds_its_real_peak(tmp_path: Path) -> None:
    script, data = tmp_path / "words.py", tmp_path / "in.txt"
    script.write_text(WORDS)
    data.write_text("alpha beta gamma delta\n" * 400_000)  # 9 MB, 1.6 M words
    run = _estimate(str(script), str(data), "--json")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["method"] == "probes"
    assert report["details"]["probe_sizes"]  # prefixes were run
    # 1.6 M small str objects and their list: well over 100 MiB, far under 1 GiB.
    assert 100 * MiB < report["peak_bytes"] < 1024 * MiB
    assert 0 < report["confidence"] <= 1


def test_estimate_never_exceeds_the_declared_memory_and_says_what_it_needs(
    tmp_path: Path,
) -> None:
    script, data = tmp_path / "words.py", tmp_path / "in.txt"
    script.write_text(WORDS)
    data.write_text("alpha beta gamma delta\n" * 400_000)
    run = _estimate(str(script), str(data), "--memory", "64MiB")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("64.0 MiB peak memory")
    assert "above --memory, the task would be killed at the limit" in run.stderr


def test_estimate_of_a_missing_input_is_a_usage_error(tmp_path: Path) -> None:
    script = tmp_path / "words.py"
    script.write_text(WORDS)
    run = _estimate(str(script), str(tmp_path / "nope.txt"))
    assert run.returncode == 2
    assert "does not exist" in run.stderr
    assert "Traceback" not in run.stderr
