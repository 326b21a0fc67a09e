"""Rendering for the CLI: Rich for people, stable JSON for scripts (docs/cli.md)."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.markup import escape

__all__ = ["escape"]
from rich.table import Table

from runsurge.client.job import JobStatus
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


def show_status(status: JobStatus, as_json: bool) -> None:
    """A job's status as `{"job": …}` JSON or for a person."""
    if as_json:
        print_json({"job": status.to_json()})
    else:
        print_status(status)


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


def print_contributors(rows: list[dict[str, Any]]) -> None:
    """The contributors table."""
    table = Table()
    table.add_column("id", no_wrap=True)
    for name in ("name", "state", "cores", "memory", "running", "load", "cpu %"):
        table.add_column(name)
    table.add_column("free memory")
    table.add_column("free disk")
    table.add_column("isolation")
    table.add_column("reason")
    for row in rows:
        level = escape(row["isolation_level"].replace("+", " + "))
        isolation = level + (" [bold red](INSECURE)[/]" if row["insecure"] else "")
        state = row.get("state") or ("ONLINE" if row["online"] else "OFFLINE")
        table.add_row(
            row["id"],
            escape(row["name"]),
            f"[{_STATE_STYLE.get(state, 'dim')}]{state}[/]",
            str(row["cores"]),
            format_size(row["memory_bytes"]),
            str(row["running_tasks"]),
            f"{row['load_1m']:.2f}",
            f"{row['cpu_percent']:.0f}",
            format_size(row["free_memory_bytes"]) if row["free_memory_bytes"] else "-",
            format_size(row["disk_free_bytes"]) if row["disk_free_bytes"] else "-",
            isolation,
            escape(row.get("state_reason", "")),
        )
    out.print(table)
