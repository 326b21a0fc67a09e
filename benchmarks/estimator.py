"""How well the memory estimator bounds real peaks, cold and with history.

For every script of ``benchmarks/estimator_corpus`` at each of its input sizes it runs
the task in the real sandbox (its actual peak, as the cgroup counts it), then asks two
estimators for a bound: a cold one (probes on prefixes + static features, no history)
and one that has seen the same script's actual peaks at its other sizes.  Prints one
row per case and the summary the issue sets targets for: coverage (actual <= estimate),
median and p90 of estimate/actual, and probe time as a share of task time for tasks
longer than 1 s.

    PYTHONPATH=src:. .venv/bin/python benchmarks/estimator.py [--quick] [--only NAME]
        [--corpus DIR]

``--corpus DIR`` measures another corpus, such as a held-out one: every ``NAME.py`` of
DIR is run on every file of the folder ``DIR/NAME/`` (its inputs, as they are); a
script without such a folder is skipped with a note.

Needs bubblewrap and writable cgroups, as the agent does.  About 8 minutes in full
(inputs up to 100 MB), under a minute with ``--quick`` (inputs up to 4 MB).
"""

from __future__ import annotations

import argparse
import functools
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.estimator_corpus.cases import ENTRIES, Entry
from runsurge.estimate import Estimate, Estimator
from runsurge.estimate.sandbox_probes import SandboxProbeRunner
from runsurge.sandbox import RunRequest, Sandbox, SandboxPolicy
from runsurge.sandbox.policy import MiB

TASK_POLICY = SandboxPolicy(
    memory_bytes=8192 * MiB, cpu_seconds=60, wall_seconds=60, workdir_bytes=1 * MiB
)
PROBE_POLICY = SandboxPolicy(
    memory_bytes=1024 * MiB, cpu_seconds=10, wall_seconds=10, workdir_bytes=1 * MiB
)


@dataclass(frozen=True)
class Case:
    """One script on one input: the actual run and both estimates."""

    script: str
    param: int
    actual_peak: int
    actual_seconds: float
    cold: Estimate
    warm: Estimate

    @property
    def probe_seconds(self) -> float:
        """Time the cold estimate spent on probes."""
        value = self.cold.details.get("probe_seconds", 0.0)
        return float(value) if isinstance(value, int | float) else 0.0


@dataclass(frozen=True)
class FileEntry:
    """A script of an outside corpus and its input files, measured as an `Entry` is."""

    script: str
    path: Path
    inputs: tuple[Path, ...]

    @property
    def source(self) -> str:
        """The script's source text."""
        return self.path.read_text()

    @property
    def params(self) -> tuple[int, ...]:
        """Each input's number (its position in the sorted folder)."""
        return tuple(range(len(self.inputs)))

    quick = params

    def generate(self, param: int) -> bytes:
        """The bytes of input number `param`."""
        return self.inputs[param].read_bytes()


def corpus_entries(folder: Path) -> list[FileEntry]:
    """Every NAME.py of `folder` with the files of `folder/NAME/` as its inputs."""
    entries = []
    for script in sorted(folder.glob("*.py")):
        inputs = tuple(sorted(p for p in (folder / script.stem).glob("*") if p.is_file()))
        if not inputs:
            print(f"  {script.name}: no inputs in {folder / script.stem}/, skipped")
            continue
        entries.append(FileEntry(script.name, script, inputs))
    return entries


@functools.lru_cache(maxsize=8)
def _input(entry_generate: object, param: int) -> bytes:
    assert callable(entry_generate)
    data = entry_generate(param)
    assert isinstance(data, bytes)
    return data


def run_actual(
    sandbox: Sandbox, folder: Path, entry: Entry | FileEntry, data: bytes
) -> tuple[int, float]:
    """The task's real peak and wall time in the sandbox; (0, time) if it did not finish."""
    script, input_path = folder / "task.py", folder / "task.input"
    script.write_text(entry.source)
    input_path.write_bytes(data)
    started = time.monotonic()
    outcome = sandbox.run(RunRequest(script, input_path, TASK_POLICY, label=entry.script))
    seconds = time.monotonic() - started
    if not outcome.ok:
        print(f"  {entry.script}: the task itself failed: {outcome.kind.value}")
        return 0, seconds
    return outcome.usage.peak_memory_bytes, seconds


def measure_entry(
    sandbox: Sandbox,
    probes: SandboxProbeRunner,
    entry: Entry | FileEntry,
    params: tuple[int, ...],
) -> list[Case]:
    """Actual peaks at every size first, then the estimates (cold, then with the others)."""
    actual: dict[int, tuple[int, float]] = {}
    with tempfile.TemporaryDirectory(prefix="runsurge-bench-") as folder:
        for param in params:
            actual[param] = run_actual(sandbox, Path(folder), entry, _input(entry.generate, param))
    cases = []
    for param in params:
        peak, seconds = actual[param]
        if not peak:
            continue
        data = _input(entry.generate, param)
        cold = Estimator(probes).estimate(entry.source, data, script_hash=entry.script)
        warm_estimator = Estimator(probes)
        for other in params:
            if other != param and actual[other][0]:
                other_data = _input(entry.generate, other)
                warm_estimator.history.record_peak(entry.script, other_data, actual[other][0])
        warm = warm_estimator.estimate(entry.source, data, script_hash=entry.script)
        cases.append(Case(entry.script, param, peak, seconds, cold, warm))
        print(_row(cases[-1]), flush=True)
    return cases


def _row(case: Case) -> str:
    def mib(n: int) -> str:
        return f"{n / MiB:9.1f}"

    shape = str(case.cold.details.get("shape", "-"))
    return (
        f"{case.script:26} {case.param:>10} {mib(case.actual_peak)} "
        f"{mib(case.cold.peak_bytes)} {case.cold.method.value:9} {shape:10} "
        f"{mib(case.warm.peak_bytes)} {case.warm.method.value:9} "
        f"{case.actual_seconds:7.2f} {case.probe_seconds:7.2f}"
    )


def _quantile(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def summarise(cases: list[Case]) -> None:
    """Coverage, estimate/actual ratios and probe share, as the issue's targets name them."""
    print()
    for label, pick in (("cold", lambda c: c.cold), ("history", lambda c: c.warm)):
        covered = [c for c in cases if c.actual_peak <= pick(c).peak_bytes]
        ratios = [pick(c).peak_bytes / c.actual_peak for c in cases]
        missed = [f"{c.script}@{c.param}" for c in cases if c not in covered]
        print(
            f"{label:8} coverage {len(covered) / len(cases):6.1%} ({len(covered)}/{len(cases)})"
            f"  estimate/actual median {statistics.median(ratios):.2f}"
            f"  p90 {_quantile(ratios, 0.9):.2f}"
        )
        if missed:
            print(f"         under-estimated: {', '.join(missed)}")
    _calibration(cases)
    long = [c for c in cases if c.actual_seconds > 1.0]
    if long:
        shares = [c.probe_seconds / c.actual_seconds for c in long]
        print(
            f"probes on the {len(long)} tasks > 1 s: median {statistics.median(shares):.1%}"
            f" of task time, max {max(shares):.1%}"
        )


def _calibration(cases: list[Case]) -> None:
    """What the margins should be: quantiles of actual / raw (pre-margin) per evidence kind."""
    by_key: dict[str, list[float]] = {}
    for case in cases:
        raw, key = case.cold.details.get("raw_bytes"), case.cold.details.get("margin_key")
        if isinstance(raw, int) and isinstance(key, str):
            by_key.setdefault(key, []).append(case.actual_peak / raw)
    for key, ratios in sorted(by_key.items()):
        print(
            f"actual/raw for {key:14} n={len(ratios):3}  median {statistics.median(ratios):.2f}"
            f"  p95 {_quantile(ratios, 0.95):.2f}  max {max(ratios):.2f}"
        )


def main() -> None:
    """Parse options, run every case, print the table and the summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="inputs up to 4 MB (~1 minute)")
    parser.add_argument("--only", default="", help="run only scripts whose name contains this")
    parser.add_argument(
        "--corpus",
        type=Path,
        help="another corpus: DIR/NAME.py run on each file of DIR/NAME/ (see the docstring)",
    )
    options = parser.parse_args()
    entries: list[Entry | FileEntry] = (
        list(corpus_entries(options.corpus)) if options.corpus else list(ENTRIES)
    )
    sandbox = Sandbox()
    probes = SandboxProbeRunner(sandbox, PROBE_POLICY)
    print(f"harness baseline: {probes.baseline_bytes / MiB:.1f} MiB ({sandbox.isolation_level})")
    print(
        f"{'script':26} {'input':>10} {'actual':>9} {'cold':>9} {'method':9} {'shape':10} "
        f"{'history':>9} {'method':9} {'task s':>7} {'probe s':>7}"
    )
    cases: list[Case] = []
    for entry in entries:
        if options.only and options.only not in entry.script:
            continue
        params = entry.quick if options.quick else entry.params
        cases += measure_entry(sandbox, probes, entry, params)
    probes.close()
    if cases:
        summarise(cases)


if __name__ == "__main__":
    main()
