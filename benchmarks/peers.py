"""RunSurge against multiprocessing.Pool(2), Dask, Ray and Celery on four workloads.

What it measures (the issue's measure 1): the wall time of each workload on each
system, all on this machine in one run, two workers each:

- noop: 10,000 no-op tasks
- spin10ms: 1,000 tasks of 10 ms of CPU each
- wordcount: 1,000 tiny word-count inputs (one line of text each)
- payload: 20 tasks with a 10 MB input each (the task returns its length)

Systems: RunSurge (`runsurge up --contributors 2`, one core each, sandbox on, one
`runsurge.Pool().map` per workload), `multiprocessing.Pool(2).map`, and, where
installed (the `bench` extra; Ray separately), a Dask `LocalCluster` of 2 one-thread
worker processes, Ray with `num_cpus=2`, and Celery (2 prefork workers) on the local
Redis (BENCH_REDIS_URL, default redis://127.0.0.1:6379/13). A system that is not
installed or not reachable is skipped with a note. Each system is started once,
warmed up with a few tasks of every workload (RunSurge: the coordinator's scan of each
script is then cached), and stopped before the next starts; start-up is not timed.

Prints per workload the median time, tasks/s (MB/s for payload), and the ratio of
each system's time to Pool's and to each peer's; for the 10 ms tasks also to the
ideal, N x 10 ms / 2 workers (the other workloads do no measurable work per task, so
their ideal is about 0). Then the issue's targets, met or not. Pool is used as a user
would write it: `Pool(2).map(f, inputs)` with its default chunking.

    .venv/bin/python benchmarks/peers.py [--quick] [--runs 3] [--only runsurge,pool,...]

--quick: a fifth of each workload (payload: 5 inputs), one run.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import logging
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from harness.local import consumer_token, start_up

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")


def run(kind: str, data: str) -> dict[str, Any]:
    """One task of a workload; every system runs this same function."""
    if kind == "noop":
        return {}
    if kind == "spin10ms":
        deadline = time.perf_counter() + 0.010
        while time.perf_counter() < deadline:
            pass
        return {"spun_ms": 10}
    if kind == "wordcount":
        return {"words": len(data.split()), "lines": data.count("\n") + 1}
    return {"n": len(data)}


# The same source, for the RunSurge scripts and the Celery worker's module.
WORK = "import time\nfrom typing import Any\n\n\n" + inspect.getsource(run)


def work(job: tuple[str, str]) -> dict[str, Any]:
    """One task for the Python peers (a picklable module-level function)."""
    return run(*job)


def script(kind: str) -> str:
    """The RunSurge script of one workload: `run` bound to `kind`."""
    return (
        f"{WORK}\n\ndef process(input_data: str) -> dict:\n    return run({kind!r}, input_data)\n"
    )


WORDS = "the quick brown fox jumps over the lazy dog and runs away"


def workloads(scale: float) -> dict[str, list[str]]:
    payload = ("0123456789" * 1_000_000)[:10_000_000]
    return {
        "noop": [str(i) for i in range(int(10_000 * scale))],
        "spin10ms": [str(i) for i in range(int(1_000 * scale))],
        "wordcount": [f"{WORDS} {i}" for i in range(int(1_000 * scale))],
        "payload": [payload[:-1] + str(i % 10) for i in range(max(int(20 * scale), 2))],
    }


Mapper = Callable[[str, list[str]], list[dict[str, Any]]]


@contextmanager
def runsurge_mapper() -> Iterator[Mapper]:
    import runsurge

    with tempfile.TemporaryDirectory(prefix="runsurge-peers-") as tmp:
        up, address = start_up(Path(tmp))
        try:
            token = consumer_token(Path(tmp))
            with runsurge.Pool(coordinator=address, token=token) as pool:
                yield lambda kind, inputs: pool.map(script(kind), inputs)
        finally:
            up.terminate()
            up.wait(60)


@contextmanager
def pool_mapper() -> Iterator[Mapper]:
    with multiprocessing.Pool(2) as pool:
        yield lambda kind, inputs: pool.map(work, [(kind, i) for i in inputs])


@contextmanager
def dask_mapper() -> Iterator[Mapper]:
    from distributed import Client, LocalCluster

    # The payload's inputs go in the task graph on purpose: that is the workload.
    warnings.filterwarnings("ignore", message="Sending large graph")

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):

        def mapped(kind: str, inputs: list[str]) -> list[dict[str, Any]]:
            futures = client.map(work, [(kind, i) for i in inputs], pure=False)
            return list(client.gather(futures))

        yield mapped


@contextmanager
def ray_mapper() -> Iterator[Mapper]:
    import ray

    ray.init(
        num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING
    )
    remote = ray.remote(work)
    try:
        yield lambda kind, inputs: ray.get([remote.remote((kind, i)) for i in inputs])
    finally:
        ray.shutdown()


CELERY_APP = f"""
from celery import Celery
app = Celery("peers", broker={REDIS_URL!r}, backend={REDIS_URL!r})
app.conf.update(task_default_queue="runsurge-peers", result_expires=600,
                worker_prefetch_multiplier=4)
{WORK}
@app.task(name="peers.work")
def work(kind, data):
    return run(kind, data)
"""


@contextmanager
def celery_mapper() -> Iterator[Mapper]:
    import redis
    from celery import group

    redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    with tempfile.TemporaryDirectory(prefix="runsurge-celery-") as tmp:
        Path(tmp, "peers_celery.py").write_text(CELERY_APP)
        sys.path.insert(0, tmp)
        import peers_celery  # type: ignore[import-not-found]

        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "peers_celery", "worker", "--concurrency", "2",
             "--pool", "prefork", "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
             "--without-heartbeat", "-Q", "runsurge-peers"],
            cwd=tmp,
            env=dict(os.environ, PYTHONPATH=tmp),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while not peers_celery.app.control.ping(timeout=0.5):
                if time.monotonic() > deadline or worker.poll() is not None:
                    raise RuntimeError("the Celery worker did not start")

            def mapped(kind: str, inputs: list[str]) -> list[dict[str, Any]]:
                jobs = group(peers_celery.work.s(kind, i) for i in inputs)
                return list(jobs.apply_async().get(timeout=3600))

            yield mapped
        finally:
            worker.terminate()
            worker.wait(30)
            sys.path.remove(tmp)


SYSTEMS: dict[str, tuple[str | None, Callable[[], AbstractContextManager[Mapper]]]] = {
    "runsurge": (None, runsurge_mapper),
    "pool": (None, pool_mapper),
    "dask": ("distributed", dask_mapper),
    "ray": ("ray", ray_mapper),
    "celery": ("celery", celery_mapper),
}


def measure(name: str, loads: dict[str, list[str]], runs: int) -> dict[str, list[float]] | str:
    """{workload: [seconds per run]}, or why the system was skipped."""
    module, start = SYSTEMS[name]
    if module is not None and importlib.util.find_spec(module) is None:
        return f"{module} not installed (pip install '.[bench]'; ray: pip install ray)"
    times: dict[str, list[float]] = {}
    try:
        with start() as mapped:
            for kind, inputs in loads.items():
                expected = [run(kind, i) for i in inputs]
                mapped(kind, inputs[:4])  # warm-up: workers, imports, the scan cache
                for _ in range(runs):
                    started = time.perf_counter()
                    results = mapped(kind, inputs)
                    times.setdefault(kind, []).append(time.perf_counter() - started)
                    if results != expected:
                        wrong = next(r for r, e in zip(results, expected, strict=True) if r != e)
                        raise RuntimeError(f"{name} {kind}: a wrong result: {wrong!r}")
                print(f"  {name} {kind}: {statistics.median(times[kind]):.2f} s", flush=True)
    except Exception as exc:  # a peer that cannot run here is a note, not the end
        if name in ("runsurge", "pool"):
            raise
        return f"{type(exc).__name__}: {exc}"
    return times


# Seconds of work in one task, where the workload has any: the ideal is N x t / 2.
TASK_SECONDS = {"spin10ms": 0.010}


def ratio(x: float) -> str:
    return f"{x:.2f}x" if x < 100 else f"{x:,.0f}x"


def report(loads: dict[str, list[str]], medians: dict[str, dict[str, float]]) -> None:
    names = list(medians)
    for kind, inputs in loads.items():
        t_task = TASK_SECONDS.get(kind)
        ideal = len(inputs) * t_task / 2 if t_task else None
        size = sum(len(i) for i in inputs) / 1e6
        what = f"ideal (N x t / 2) {ideal:.2f} s" if ideal else "ideal ~0 (no work per task)"
        print(f"\n{kind}: {len(inputs):,} tasks; {what}")
        header = "".join(f"{'/ ' + n:>11}" for n in names)
        unit = "MB/s" if kind == "payload" else "tasks/s"
        print(f"{'system':<10}{'seconds':>9}{unit:>10}{'/ ideal':>9}{header}")
        for name in names:
            t = medians[name][kind]
            rate = size / t if kind == "payload" else len(inputs) / t
            ratios = "".join(f"{ratio(t / medians[other][kind]):>11}" for other in names)
            over = ratio(t / ideal) if ideal else "-"
            print(f"{name:<10}{t:>9.3f}{rate:>10,.0f}{over:>9}{ratios}")
    targets(loads, medians)


def targets(loads: dict[str, list[str]], medians: dict[str, dict[str, float]]) -> None:
    ours = medians["runsurge"]
    print("\nissue targets:")
    ideal = len(loads["spin10ms"]) * 0.010 / 2
    checks = [("10 ms tasks <= 1.10x ideal (N x 10 ms / 2)", ours["spin10ms"] / ideal, 1.10)]
    checks.append(
        (
            "payload MB/s >= Pool's (time / Pool's)",
            ours["payload"] / medians["pool"]["payload"],
            1.0,
        )
    )
    if "ray" in medians:
        ray = medians["ray"]
        checks.append(
            ("no-op throughput >= 2x Ray's (time / Ray's)", ours["noop"] / ray["noop"], 0.5)
        )
        checks.append(
            ("word count faster than Ray (time / Ray's)", ours["wordcount"] / ray["wordcount"], 1.0)
        )
    for what, ratio, limit in checks:
        print(
            f"  {what}: {ratio:.2f} (need <= {limit:.2f}) {'met' if ratio <= limit else 'NOT met'}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a fifth of each workload, one run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", default=",".join(SYSTEMS), help="comma-separated systems")
    args = parser.parse_args()
    scale = 0.2 if args.quick else 1.0
    if args.quick:
        args.runs = 1
    loads = workloads(scale)
    chosen = [
        "runsurge",
        "pool",
        *(n for n in args.only.split(",") if n not in ("runsurge", "pool")),
    ]
    medians: dict[str, dict[str, float]] = {}
    for name in chosen:
        print(f"{name} ...", flush=True)
        found = measure(name, loads, args.runs)
        if isinstance(found, str):
            print(f"  skipping {name}: {found}")
            continue
        medians[name] = {k: statistics.median(v) for k, v in found.items()}
    print(f"\nmedian of {args.runs} run(s) per workload; 2 workers each")
    report(loads, medians)


if __name__ == "__main__":
    main()
