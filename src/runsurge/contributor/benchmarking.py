"""Running the machine benchmark from the agent: in a child process, never in the loop.

The benchmark (billing/benchmark.py) keeps every core busy for a few seconds; in a
child interpreter it neither holds the agent's GIL nor blocks its event loop, so
heartbeats keep going while a periodic re-run measures. A failed or hung run is
logged and yields nothing: the agent then claims no factor (the coordinator pays the
BASELINE's 1.0), which is never more than a working benchmark would have claimed
for a machine that cannot run one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from pathlib import Path

from runsurge.billing.benchmark import BenchmarkError, BenchmarkResult, from_json

log = logging.getLogger(__name__)
# Beyond its budget, a run gets this long (spawning, a slow disk) before it is killed.
SLACK_SECONDS = 30.0


async def measure(seconds: float, cores: int, work_dir: Path) -> BenchmarkResult | None:
    """Run the benchmark within about `seconds` on up to `cores` cores; None on failure."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "runsurge.billing.benchmark",
        "--json",
        f"--seconds={seconds}",
        f"--cores={cores}",
        f"--dir={work_dir / 'benchmark'}",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), seconds * 2 + SLACK_SECONDS)
    except (TimeoutError, asyncio.CancelledError):
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        log.warning("the machine benchmark did not finish; claiming no factor")
        return None
    if proc.returncode != 0:
        log.warning("the machine benchmark failed: %s", err.decode(errors="replace")[-500:])
        return None
    try:
        result = from_json(out.decode(errors="replace"))
    except BenchmarkError as exc:
        log.warning("the machine benchmark printed no result: %s", exc)
        return None
    log.info(
        "machine benchmark: factor %.3f in %.1fs (%s)",
        result.factor,
        result.seconds,
        ", ".join(f"{k} {v:.3g}" for k, v in result.parts.items()),
    )
    return result
