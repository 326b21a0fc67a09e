"""The contributors table reads in an 80-column terminal and keeps everything when wide."""

from __future__ import annotations

from typing import Any

import pytest
from rich.console import Console

from runsurge.cli import output

ROW: dict[str, Any] = {
    "id": "951bf5898fe6490f",
    "name": "laptop-1",
    "online": True,
    "state": "ONLINE",
    "state_reason": "",
    "cores": 1,
    "memory_bytes": 1 << 30,
    "running_tasks": 0,
    "load_1m": 0.5,
    "cpu_percent": 64.0,
    "free_memory_bytes": 2 << 30,
    "disk_free_bytes": 77 << 30,
    "isolation_level": "bubblewrap+cgroup-v1+rlimits+seccomp",
    "insecure": False,
    "claimed_factor": "1.000000",
    "machine_factor": "1.000000",
    "factor_flagged": False,
    "factor_note": "",
}
FLAGGED = dict(
    ROW,
    claimed_factor="10.000000",
    factor_flagged=True,
    factor_note="claims 10.00x but its tasks run at 1.00x (6 tasks): paid 1.00x",
)


def _render(monkeypatch: pytest.MonkeyPatch, width: int, rows: list[dict[str, Any]]) -> str:
    console = Console(width=width, record=True, color_system=None)
    monkeypatch.setattr(output, "out", console)
    output.print_contributors(rows)
    return console.export_text()


def test_in_80_columns_every_cell_is_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    text = _render(monkeypatch, 80, [ROW])
    assert all(len(line) <= 80 for line in text.splitlines())
    for cell in ("951bf5898fe6490f", "laptop-1", "ONLINE", "1.0 GiB", "0.50", "2.0 GiB"):
        assert cell in text, (cell, text)
    assert "…" not in text


def test_wide_terminals_show_cpu_disk_isolation_and_reasons(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    quarantined = dict(ROW, state="QUARANTINED", state_reason="5 infrastructure failures")
    text = _render(monkeypatch, 200, [ROW, quarantined])
    for cell in ("cpu %", "free disk", "full sandbox", "5 infrastructure failures"):
        assert cell in text, (cell, text)


def test_a_flagged_factor_is_marked_whole_in_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    text = _render(monkeypatch, 80, [ROW, FLAGGED])
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "ONLINE FLAG" in text, text
    assert "…" not in text


def test_wide_terminals_show_the_paid_factor_and_why_it_is_flagged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = _render(monkeypatch, 200, [ROW, FLAGGED])
    flat = " ".join(text.split())
    assert "factor" in text and "1.00 !" in text, text
    assert "factor flagged: claims 10.00x but its tasks run at 1.00x" in flat, text
