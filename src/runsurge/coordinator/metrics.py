"""Prometheus metrics of a coordinator: what it holds, and what it has seen happen.

Gauges describe durable state (jobs and tasks by state, the queue, contributors by
state, heartbeat lag, running attempts) and are computed when Prometheus scrapes, from
the same counters the scheduler uses, so they are right after a restart and cost
nothing between scrapes. Counters and histograms count events since this process started
(reports by outcome, lost attempts, refused reports, requeues and reruns, attempt
durations, dispatch latency, gaps between heartbeats), as Prometheus counters do.
Each coordinator has its own registry (never the process-wide default), so several
coordinators in one process, as in tests, do not collide.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from runsurge.coordinator.estimate_quality import WINDOW, EstimateQuality, read_quality
from runsurge.errors import ConfigError
from runsurge.store.database import Database
from runsurge.store.models import Attempt, Contributor, Job, utcnow
from runsurge.store.states import AttemptState, ContributorState, JobState

log = logging.getLogger(__name__)
ACTIVE_JOBS = (JobState.QUEUED, JobState.RUNNING, JobState.AGGREGATING)


@dataclass(frozen=True)
class StateSnapshot:
    """Counts read in one transaction for one scrape."""

    jobs_by_state: dict[str, int]
    tasks_by_state: dict[str, int]
    queued_tasks: int
    contributors_by_state: dict[str, int]
    running_attempts: int
    heartbeat_lag_seconds: float
    estimates: dict[str, EstimateQuality] = field(default_factory=dict)


def read_snapshot(session: Session) -> StateSnapshot:
    """Everything the gauges show, from the job counters and small aggregate queries."""
    jobs = _count_by(session, Job.state)
    totals = session.execute(
        select(
            func.coalesce(func.sum(Job.queued_count), 0),
            func.coalesce(func.sum(Job.running_count), 0),
            func.coalesce(func.sum(Job.succeeded_count), 0),
            func.coalesce(func.sum(Job.failed_count), 0),
            func.coalesce(func.sum(Job.cancelled_count), 0),
        )
    ).one()
    tasks = dict(
        zip(("QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"), totals, strict=True)
    )
    queued = session.scalar(
        select(func.coalesce(func.sum(Job.queued_count), 0)).where(Job.state.in_(ACTIVE_JOBS))
    )
    contributors = _count_by(session, Contributor.state)
    running = session.scalar(
        select(func.count()).select_from(Attempt).where(Attempt.state == AttemptState.RUNNING)
    )
    oldest = session.scalar(
        select(func.min(Contributor.last_seen)).where(Contributor.state == ContributorState.ONLINE)
    )
    lag = max(0.0, (utcnow() - oldest).total_seconds()) if oldest is not None else 0.0
    return StateSnapshot(
        jobs_by_state={s.value: int(jobs.get(s.value, 0)) for s in JobState},
        tasks_by_state={k: int(v) for k, v in tasks.items()},
        queued_tasks=int(queued or 0),
        contributors_by_state={
            s.value: int(contributors.get(s.value, 0)) for s in ContributorState
        },
        running_attempts=int(running or 0),
        heartbeat_lag_seconds=lag,
        estimates=read_quality(session),
    )


def _count_by(session: Session, column: InstrumentedAttribute[Any]) -> dict[str, int]:
    """Rows per value of a state column, keyed by the state's value."""
    rows = session.execute(select(column, func.count()).group_by(column)).tuples().all()
    return {state.value: int(count) for state, count in rows}


class StateCollector(Collector):
    """Turns a fresh `StateSnapshot` into metric families at every scrape."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def collect(self) -> Iterator[Metric]:
        """Called by prometheus_client on its HTTP thread; one short read transaction."""
        snapshot = self._db.call(read_snapshot)
        yield _by_label("runsurge_jobs", "Jobs by state.", "state", snapshot.jobs_by_state)
        yield _by_label(
            "runsurge_tasks", "Input tasks by state (all jobs).", "state", snapshot.tasks_by_state
        )
        yield GaugeMetricFamily(
            "runsurge_queue_depth",
            "Tasks queued in active jobs, waiting for a contributor.",
            value=snapshot.queued_tasks,
        )
        yield _by_label(
            "runsurge_contributors",
            "Contributors by state.",
            "state",
            snapshot.contributors_by_state,
        )
        yield GaugeMetricFamily(
            "runsurge_attempts_running",
            "Attempts running on contributors now.",
            value=snapshot.running_attempts,
        )
        yield GaugeMetricFamily(
            "runsurge_heartbeat_lag_seconds",
            "Seconds since the least recently heard online contributor was last heard.",
            value=snapshot.heartbeat_lag_seconds,
        )
        yield from _estimate_families(snapshot.estimates)


def _estimate_families(quality: dict[str, EstimateQuality]) -> Iterator[Metric]:
    """Coverage and tightness of the memory estimates, per method (estimate_quality.py)."""
    tasks = GaugeMetricFamily(
        "runsurge_estimate_tasks",
        f"Succeeded tasks with a memory estimate among the newest {WINDOW}, by method.",
        labels=["method"],
    )
    coverage = GaugeMetricFamily(
        "runsurge_estimate_coverage_ratio",
        "Share of those tasks whose kernel-measured peak stayed within the estimate.",
        labels=["method"],
    )
    tightness = GaugeMetricFamily(
        "runsurge_estimate_over_peak_median",
        "Median of estimate / peak over those tasks (1.0: exact; above: reserved spare).",
        labels=["method"],
    )
    for method, q in sorted(quality.items()):
        tasks.add_metric([method], q.tasks)
        coverage.add_metric([method], q.coverage)
        tightness.add_metric([method], q.median_ratio)
    yield tasks
    yield coverage
    yield tightness


def _by_label(name: str, doc: str, label: str, values: dict[str, int]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=[label])
    for key, value in sorted(values.items()):
        family.add_metric([key], value)
    return family


# Task durations run from milliseconds (warm sessions) to the 15-minute wall limit.
DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900)
# Waiting for a slot: from milliseconds on an idle cluster to hours behind a big group.
DISPATCH_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600)
# Heartbeats come every interval (2 s by default); a gap near the lease is trouble.
HEARTBEAT_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60)


class EventMetrics:
    """The coordinator's event counters; `Coordinator` calls these as things happen."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._reports = Counter(
            "runsurge_attempt_reports",
            "Attempt reports recorded, by outcome (late and duplicate ones included).",
            ["outcome"],
            registry=self.registry,
        )
        self._durations = Histogram(
            "runsurge_attempt_duration_seconds",
            "Wall time of attempts that settled their task, as the agent measured it.",
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self._lost = Counter(
            "runsurge_attempts_lost",
            "Attempts declared lost: lease lapsed, or forgotten by their agent.",
            ["why"],
            registry=self.registry,
        )
        self._refused = Counter(
            "runsurge_reports_refused",
            "Attempt reports refused as unsound (not the agent's, a bad result).",
            registry=self.registry,
        )
        self._dispatch = Histogram(
            "runsurge_dispatch_latency_seconds",
            "From a task being queued (created or requeued) to its assignment to an agent.",
            buckets=DISPATCH_BUCKETS,
            registry=self.registry,
        )
        self._requeues = Counter(
            "runsurge_task_requeues",
            "Tasks queued again after a failed or lost attempt.",
            registry=self.registry,
        )
        self._reruns = Counter(
            "runsurge_task_reruns",
            "Tasks assigned again after an attempt that reached its agent was lost (or "
            "succeeded): work that may be done twice.",
            registry=self.registry,
        )
        self._heartbeat_gaps = Histogram(
            "runsurge_heartbeat_gap_seconds",
            "Seconds between two heartbeats of one contributor on one work stream.",
            buckets=HEARTBEAT_BUCKETS,
            registry=self.registry,
        )
        self._last_beat: dict[str, float] = {}  # contributor id → monotonic time

    def report_recorded(self, outcome: str, wall_seconds: float, settled: bool) -> None:
        """A report was recorded; `settled` when it decided its task's fate."""
        self._reports.labels(outcome=outcome).inc()
        if settled:
            self._durations.observe(max(0.0, wall_seconds))

    def attempt_lost(self, why: str) -> None:
        """An attempt was lost (`why`: "lease" or "forgotten")."""
        self._lost.labels(why=why).inc()

    def report_refused(self) -> None:
        """A report was refused."""
        self._refused.inc()

    def task_assigned(self, queued_seconds: float, rerun: bool) -> None:
        """A task was claimed for an agent after waiting `queued_seconds`."""
        self._dispatch.observe(max(0.0, queued_seconds))
        if rerun:
            self._reruns.inc()

    def tasks_requeued(self, count: int) -> None:
        """Tasks went back to the queue."""
        if count:
            self._requeues.inc(count)

    def stream_opened(self, contributor_id: str) -> None:
        """A new work stream: the gap since the last stream's beat is an outage, not lag."""
        self._last_beat.pop(contributor_id, None)

    def heartbeat(self, contributor_id: str) -> None:
        """A heartbeat arrived; observe the gap since the previous one on this stream."""
        now = time.monotonic()
        previous = self._last_beat.get(contributor_id)
        self._last_beat[contributor_id] = now
        if previous is not None:
            self._heartbeat_gaps.observe(now - previous)


def metrics_registry(db: Database, events: EventMetrics) -> CollectorRegistry:
    """The coordinator's registry: its event counters plus the state read at scrape."""
    events.registry.register(StateCollector(db))
    return events.registry


def serve_metrics(listen: str, registry: CollectorRegistry) -> Callable[[], None]:
    """Serve `/metrics` on HOST:PORT in a daemon thread; return the function that stops it."""
    host, _, port = listen.rpartition(":")
    try:
        server, thread = start_http_server(int(port), addr=host or "0.0.0.0", registry=registry)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot serve metrics on {listen}: {exc}") from None
    log.info("metrics on http://%s/metrics", listen)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return stop
