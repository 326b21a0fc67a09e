"""`runsurge estimate`: the estimator on the consumer's machine, probing in the real sandbox."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
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
    # The cost is the formula on the estimate: peak (MB) x the probes' time x the price.
    price = Decimal("0.000001")  # the coordinator's default, per MB-second
    expected = Decimal(report["peak_bytes"]) / 10**6 * Decimal(repr(report["task_seconds"])) * price
    assert report["task_seconds"] > 0
    assert Decimal(report["predicted_cost"]) == expected.quantize(Decimal("0.000001"))


def test_estimate_cost_follows_the_given_price_and_a_bad_price_is_refused(
    tmp_path: Path,
) -> None:
    script, data = tmp_path / "words.py", tmp_path / "in.txt"
    script.write_text(WORDS)
    data.write_text("alpha beta gamma delta\n" * 1000)  # tiny: run whole, timed exactly
    cheap = json.loads(_estimate(str(script), str(data), "--json").stdout)
    dear = json.loads(
        _estimate(str(script), str(data), "--json", "--price-per-mb-second", "0.01").stdout
    )
    assert Decimal(dear["predicted_cost"]) > Decimal(cheap["predicted_cost"])
    bad = _estimate(str(script), str(data), "--price-per-mb-second", "cheap")
    assert bad.returncode == 2
    assert "--price-per-mb-second 'cheap' is not a price" in bad.stderr


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
