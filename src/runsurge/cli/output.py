"""Rendering for the CLI: Rich for people, stable JSON for scripts (docs/cli.md)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from rich.console import Console
from rich.markup import escape

__all__ = ["escape"]
from rich import box
from rich.table import Table

from runsurge.client.job import InputResult, JobStatus
from runsurge.config import format_size

out = Console()
err = Console(stderr=True, soft_wrap=True)  # errors stay one line per line: copy-pasteable

STATE_STYLE = {
    "SUCCEEDED": "green",
    "FAILED": "red",
    "CANCELLED": "yellow",
    "RUNNING": "cyan",
    "QUEUED": "blue",
    "SUBMITTING": "blue",
}


def print_json(data: Any) -> None:
    """One JSON document on stdout, keys sorted so output is stable."""
    print(json.dumps(data, indent=2, sort_keys=True, default=str))


def print_status(status: JobStatus) -> None:
    """A job's status for a person."""
    style = STATE_STYLE.get(status.state, "white")
    out.print(f"job [bold]{status.id}[/]  [{style}]{status.state}[/]  ({status.kind})")
    t = status.tasks
    if status.kind == "group" or t.total > 1:
        out.print(
            f"  tasks: {t.total} total, {t.succeeded} succeeded, {t.failed} failed, "
            f"{t.running} running, {t.queued} queued, {t.cancelled} cancelled"
        )
    if status.waiting_reason:
        out.print(f"  [yellow]{escape(status.waiting_reason)}[/]")
    if status.error is not None:
        print_task_error(status.error.describe())


def show_status(status: JobStatus, as_json: bool, tasks: list[InputResult] | None = None) -> None:
    """A job's status as `{"job": …}` JSON (with `"tasks"` when listed) or for a person."""
    if as_json:
        shown: dict[str, Any] = {"job": status.to_json()}
        if tasks is not None:
            shown["tasks"] = [_task_json(item) for item in tasks]
        print_json(shown)
        return
    print_status(status)
    if tasks is not None:
        print_task_memory(tasks)


def _task_json(item: InputResult) -> dict[str, Any]:
    """One input's state and memory for `status --json` (its result stays with `result`)."""
    memory = asdict(item.memory) if item.memory is not None else None
    return {"index": item.index, "state": item.state, "memory": memory}


def print_task_memory(tasks: list[InputResult]) -> None:
    """Each input's memory estimate, what decided it, its reservation and its peak."""
    table = Table(box=None, header_style="bold")
    for column in ("input", "state", "estimate", "method", "confidence", "reserved", "peak"):
        table.add_column(column, justify="left" if column in ("state", "method") else "right")
    for item in tasks:
        m = item.memory
        if m is None:
            continue
        table.add_row(
            str(item.index),
            item.state,
            format_size(m.estimate_bytes) if m.estimate_bytes else "-",
            m.estimate_method,
            f"{m.estimate_confidence:.2f}" if m.estimate_bytes else "-",
            format_size(m.reservation_bytes),
            format_size(m.peak_bytes) if m.peak_bytes else "-",
        )
    out.print(table)


def print_jobs(rows: list[JobStatus]) -> None:
    """The jobs table: id, state, kind, progress, created, name and labels."""
    if not rows:
        err.print("no jobs")
        return
    table = Table(box=box.SIMPLE_HEAD, header_style="bold")
    for column in ("job", "state", "kind", "done", "created", "name", "labels"):
        table.add_column(column, justify="right" if column == "done" else "left")
    for row in rows:
        style = STATE_STYLE.get(row.state, "white")
        created = row.created_at.strftime("%Y-%m-%d %H:%M:%S") if row.created_at else ""
        t = row.tasks
        labels = ", ".join(f"{k}={v}" for k, v in sorted(row.labels.items()))
        table.add_row(
            row.id,
            f"[{style}]{row.state}[/]",
            row.kind,
            f"{t.succeeded + t.failed + t.cancelled}/{t.total}",
            created,
            escape(row.name),
            escape(labels),
        )
    out.print(table)


def print_task_error(text: str) -> None:
    """A task's error, traceback included, on stderr."""
    err.print(f"[red]{escape(text)}[/]")


# How each contributor state is shown in the table.
_STATE_STYLE = {
    "ONLINE": "green",
    "SUSPECT": "yellow",
    "DRAINING": "cyan",
    "QUARANTINED": "bold red",
}


# The full sandbox's level, shown as one word in the table (`--json` keeps it whole).
_FULL_ISOLATION = "bubblewrap+cgroup-v1+rlimits+seccomp", "bubblewrap+cgroup-v2+rlimits+seccomp"
_WIDE = 130  # below this many columns the table drops CPU %, free disk and the isolation


def _reason(row: dict[str, Any], wide: bool) -> str:
    """Why the contributor is in its state, and (when wide) why its factor is flagged.

    A narrow table marks a flagged factor FLAG by the state; `--json` and wide
    terminals say why.
    """
    reasons = [row.get("state_reason") or ""]
    if wide and row.get("factor_flagged"):
        reasons.append(f"factor flagged: {row.get('factor_note', '')}")
    return "; ".join(r for r in reasons if r)


def print_contributors(rows: list[dict[str, Any]]) -> None:
    """The contributors table; narrow terminals get the columns that matter most."""
    wide = out.width >= _WIDE
    with_reason = any(_reason(row, wide) for row in rows)
    table = Table(box=box.SIMPLE_HEAD, collapse_padding=True, pad_edge=False)
    table.add_column("id", no_wrap=True)
    columns = ["name", "state", "cores", "memory", "tasks", "load", "free mem"]
    if wide:
        columns += ["cpu %", "free disk", "factor", "isolation"]
    if with_reason:
        columns.append("reason")
    for name in columns:
        table.add_column(name, no_wrap=name != "reason")
    for row in rows:
        state = row.get("state") or ("ONLINE" if row["online"] else "OFFLINE")
        cells = [
            row["id"],
            escape(row["name"]),
            f"[{_STATE_STYLE.get(state, 'dim')}]{state}[/]"
            + (" [bold red]INSECURE[/]" if row["insecure"] else "")
            + (" [bold red]FLAG[/]" if row.get("factor_flagged") else ""),
            str(row["cores"]),
            format_size(row["memory_bytes"]),
            str(row["running_tasks"]),
            f"{row['load_1m']:.2f}",
            format_size(row["free_memory_bytes"]) if row["free_memory_bytes"] else "-",
        ]
        if wide:
            level = row["isolation_level"]
            cells += [
                f"{row['cpu_percent']:.0f}",
                format_size(row["disk_free_bytes"]) if row["disk_free_bytes"] else "-",
                f"{float(row.get('machine_factor') or 1):.2f}"
                + (" [bold red]![/]" if row.get("factor_flagged") else ""),
                "full sandbox" if level in _FULL_ISOLATION else escape(level),
            ]
        if with_reason:
            cells.append(escape(_reason(row, wide)))
        table.add_row(*cells)
    out.print(table)
