"""Delivering one input to the harness through a pipe the agent fills.

The harness never holds the input file itself: ``/proc/self/fd/N`` of an open file
names its host path (an unlinked one too, as ``... (deleted)``), and a script can
read that link at import time, before ``process`` is called.  A pipe's link reads
``pipe:[inode]``.  So the agent keeps the file and moves its bytes into a pipe as
the harness reads them: `supervise` calls `InputFeed.pump` whenever the pipe has
room.  ``splice`` moves page-cache pages into the pipe without copying them through
the agent, so a large input is never held in the agent's memory; at most the pipe's
buffer (1 MiB where the host allows it) is in flight.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from pathlib import Path

PIPE_BYTES = 1 << 20  # asked for; the kernel may keep its default (64 KiB) instead
_CHUNK = 1 << 20
_SPLICE_FLAGS = os.SPLICE_F_MOVE | os.SPLICE_F_NONBLOCK


class InputFeed:
    """The input file (agent only) and the pipe whose read end the harness gets.

    `pump` never blocks; once the whole file is in the pipe, or the harness closed
    its end, the write end is closed so that the reader sees end of file.
    """

    def __init__(self, source_fd: int, read_fd: int, write_fd: int) -> None:
        self._source = source_fd
        self.read_fd = read_fd  # the child's end, passed to the harness
        self.write_fd = write_fd  # the agent's end, non-blocking
        self._pending = b""  # read but not yet written (only when splice is unsupported)
        self._splice = True
        self._open = {source_fd, read_fd, write_fd}

    @classmethod
    def open(cls, path: Path) -> InputFeed:
        """Open the input read-only and make the pipe (close-on-exec; passed explicitly)."""
        source = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            read_fd, write_fd = os.pipe()
        except BaseException:
            os.close(source)
            raise
        # Over /proc/sys/fs/pipe-max-size or the user's pipe quota: smaller chunks.
        with contextlib.suppress(OSError):
            fcntl.fcntl(write_fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        os.set_blocking(write_fd, False)
        return cls(source, read_fd, write_fd)

    @property
    def finished(self) -> bool:
        """True once the write end is closed (all delivered, or the reader went away)."""
        return self.write_fd not in self._open

    def pump(self) -> bool:
        """Move what the pipe takes now; True once finished."""
        if self.finished:
            return True
        try:
            while self._move():
                pass
        except BlockingIOError:
            return False
        except OSError:  # EPIPE: the harness closed its end or died; nothing more to do
            self._finish()
            return True
        return self.finished

    def _move(self) -> bool:
        """One step; False when the whole file is delivered (and the pipe closed)."""
        if self._splice and not self._pending:
            try:
                moved = os.splice(self._source, self.write_fd, _CHUNK, flags=_SPLICE_FLAGS)
            except OSError as exc:
                if exc.errno not in (errno.EINVAL, errno.ENOSYS):
                    raise
                self._splice = False  # a file system without splice: read and write
                return True
        else:
            if not self._pending:
                self._pending = os.read(self._source, _CHUNK)
            moved = os.write(self.write_fd, self._pending) if self._pending else 0
            self._pending = self._pending[moved:]
        if moved == 0:
            self._finish()
            return False
        return True

    def _finish(self) -> None:
        self._close(self.write_fd)
        self._close(self._source)

    def close_child_end(self) -> None:
        """After the hand-off: the agent must not hold the read end, or EPIPE never comes."""
        self._close(self.read_fd)

    def close(self) -> None:
        """Release every descriptor still open; idempotent."""
        for fd in list(self._open):
            self._close(fd)

    def _close(self, fd: int) -> None:
        if fd in self._open:
            self._open.discard(fd)
            os.close(fd)
