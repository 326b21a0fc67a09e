"""The input feed: the harness reads its input from a pipe the agent fills (issue 15, defect 6)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from runsurge.sandbox.feed import InputFeed


def _pump_until_finished(feed: InputFeed, reader: threading.Thread) -> None:
    import select

    while not feed.pump():
        select.select([], [feed.write_fd], [], 1.0)
    reader.join(10)


def test_a_large_input_arrives_whole_through_the_pipe(tmp_path: Path) -> None:
    data = os.urandom(3 << 20) + b"end"
    path = tmp_path / "input.bin"
    path.write_bytes(data)
    feed = InputFeed.open(path)
    received = bytearray()

    def read() -> None:
        while chunk := os.read(feed.read_fd, 1 << 20):
            received.extend(chunk)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        _pump_until_finished(feed, reader)
    finally:
        feed.close()
    assert bytes(received) == data


def test_pump_returns_at_once_when_nobody_reads(tmp_path: Path) -> None:
    path = tmp_path / "input.bin"
    path.write_bytes(b"x" * (8 << 20))  # more than any pipe buffer
    feed = InputFeed.open(path)
    try:
        assert feed.pump() is False  # the pipe is full: not finished, and not blocked
        assert not feed.finished
    finally:
        feed.close()


def test_a_reader_that_goes_away_finishes_the_feed(tmp_path: Path) -> None:
    path = tmp_path / "input.bin"
    path.write_bytes(b"x" * (8 << 20))
    feed = InputFeed.open(path)
    try:
        assert feed.pump() is False
        feed.close_child_end()  # the harness closed its end (or died)
        assert feed.pump() is True and feed.finished
    finally:
        feed.close()


def test_the_childs_descriptor_names_a_pipe_not_the_input_path(tmp_path: Path) -> None:
    path = tmp_path / "secret-location" / "input.txt"
    path.parent.mkdir()
    path.write_text("hello")
    feed = InputFeed.open(path)
    try:
        link = os.readlink(f"/proc/self/fd/{feed.read_fd}")
    finally:
        feed.close()
    assert link.startswith("pipe:["), link
    assert str(tmp_path) not in link
