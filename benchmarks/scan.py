"""Scan-gate timings: cold scans and cached verdicts, semgrep-core route vs `semgrep scan`.

Run:  .venv/bin/python benchmarks/scan.py [--runs 5]

Targets (issue "Semgrep gate"): cached verdict < 5 ms; cold scan of a 2,000-line
script < 3 s on the 2-core reference machine.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from runsurge.scan import MemoryVerdictCache, ScanGate, SemgrepCliEngine, SemgrepCoreEngine
from runsurge.scan.engine import ScanEngine

HEADER = '''"""Generated benchmark script: log and CSV processing helpers."""
import csv
import io
import json
import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass

LINE = re.compile(
    r"(?P<ip>\\S+) \\S+ \\S+ \\[(?P<ts>[^\\]]+)\\] \\"(?P<req>[^\\"]*)\\" (?P<st>\\d+)"
)


@dataclass(frozen=True)
class Hit:
    ip: str
    path: str
    status: int
'''

BLOCK = """

def parse_{n}(line: str) -> Hit | None:
    m = LINE.match(line)
    if m is None:
        return None
    parts = m.group("req").split()
    path = parts[1] if len(parts) > 1 else "-"
    return Hit(m.group("ip"), path, int(m.group("st")))


def summarise_{n}(text: str) -> dict:
    hits = [h for h in (parse_{n}(x) for x in text.splitlines()) if h is not None]
    by_status: Counter[int] = Counter(h.status for h in hits)
    by_ip: defaultdict[str, int] = defaultdict(int)
    for h in hits:
        by_ip[h.ip] += 1
    sizes = [len(h.path) for h in hits] or [0]
    rows = list(csv.reader(io.StringIO(text)))
    return {{
        "n": len(hits),
        "status": dict(by_status),
        "top": max(by_ip.items(), key=lambda kv: kv[1], default=None),
        "mean_path": statistics.fmean(sizes),
        "rows": len(rows),
        "json": json.dumps(sorted(by_ip))[:80],
    }}
"""

FOOTER = """

def process(input_data: str) -> dict:
    return summarise_0(input_data)
"""


def make_script(lines: int) -> bytes:
    """A realistic benign script of about `lines` lines."""
    text = HEADER
    n = 0
    while text.count("\n") + BLOCK.count("\n") + FOOTER.count("\n") <= lines:
        text += BLOCK.format(n=n)
        n += 1
    text += FOOTER
    while text.count("\n") < lines:
        text += "\n# padding"
    return text.encode()


def median_ms(fn: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def cold(engine: ScanEngine, source: bytes) -> Callable[[], object]:
    """A scan with an empty cache, so Semgrep really runs."""
    return lambda: ScanGate(engine, MemoryVerdictCache()).check(source)


def cached(engine: ScanEngine, source: bytes) -> Callable[[], object]:
    gate = ScanGate(engine, MemoryVerdictCache())
    report = gate.check(source)
    assert not report.rejected, report.findings
    return lambda: gate.check(source)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="cold runs per figure (median)")
    args = parser.parse_args()
    core, cli = SemgrepCoreEngine(), SemgrepCliEngine()
    rows = []
    for size in (50, 2000):
        source = make_script(size)
        n_lines = source.count(b"\n")
        core_cold = median_ms(cold(core, source), args.runs)
        cli_cold = median_ms(cold(cli, source), max(3, args.runs // 2))
        hit = median_ms(cached(core, source), 1000)
        rows.append((n_lines, core_cold, cli_cold, hit))
    print(
        f"{'script':>12} | {'cold core':>10} | {'cold CLI':>10} | {'CLI/core':>8} | {'cached':>9}"
    )
    print("-" * 63)
    for n_lines, core_cold, cli_cold, hit in rows:
        print(
            f"{n_lines:>6} lines | {core_cold:>7.0f} ms | {cli_cold:>7.0f} ms | "
            f"{cli_cold / core_cold:>7.1f}x | {hit:>6.3f} ms"
        )
    big = rows[-1]
    worst_hit = max(r[3] for r in rows)
    print()
    print(f"target cached verdict < 5 ms:        {worst_hit:.3f} ms  {_ok(worst_hit < 5)}")
    print(f"target cold 2,000-line scan < 3 s:   {big[1] / 1000:.2f} s   {_ok(big[1] < 3000)}")
    print(f"(same scan through `semgrep scan`:   {big[2] / 1000:.2f} s   {_ok(big[2] < 3000)})")


def _ok(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


if __name__ == "__main__":
    main()
