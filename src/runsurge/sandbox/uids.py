"""Host uids for sandboxes: one of its own for every sandbox that runs at the same time.

A root agent runs bubblewrap as an unprivileged host uid. Were that one uid for
every sandbox (``nobody``, 65534), sandboxes of different consumers would share the
kernel's per-user counters — one task parking descriptors in flight on a UNIX socket
exhausts the quota every other sandbox's reporter needs to hand descriptors to its
zygote — and a host process of that uid would own every sandbox's user namespace,
with the capabilities to read any reporter's memory. So, as isolate does, each
sandbox takes a uid (and the same gid) from a reserved range while it runs, and
gives it back only once its teardown verified that no process is left: a uid whose
sandbox could not be cleaned is never handed out again in this agent's lifetime.

The range must not be used by anyone else on the host; the default sits far above
the usual system, user, ``subuid`` and systemd dynamic-user ranges.
"""

from __future__ import annotations

import os
import threading

DEFAULT_SANDBOX_UIDS = range(2_100_000_000, 2_100_065_536)


class UidsExhausted(RuntimeError):
    """Every uid of the range is in use (or retired); no sandbox can start."""


class UidPool:
    """Hands out uids of a reserved range, one per running sandbox; thread-safe."""

    def __init__(self, uids: range = DEFAULT_SANDBOX_UIDS) -> None:
        if not uids or uids.start <= 65534 or uids.stop > 2**32 - 1 or uids.step != 1:
            raise ValueError(f"sandbox uids must be a contiguous range above 65534, not {uids}")
        self.uids = uids
        self._lock = threading.Lock()
        self._next = uids.start
        self._busy: set[int] = set()
        self._retired: set[int] = set()
        # A uid some process already runs as (a sandbox of an agent that died hard,
        # or another tool on this host) is not ours to hand out.
        self._retired |= _uids_in_use(uids)

    def acquire(self) -> int:
        """A uid no running sandbox of this agent has, nor any process on this host."""
        with self._lock:
            for _ in range(len(self.uids)):
                uid = self._next
                self._next = uid + 1 if uid + 1 < self.uids.stop else self.uids.start
                if uid not in self._busy and uid not in self._retired:
                    self._busy.add(uid)
                    return uid
        raise UidsExhausted(f"all {len(self.uids)} sandbox uids {self.uids} are in use")

    def release(self, uid: int, clean: bool) -> None:
        """Give `uid` back; `clean` False (processes may remain) retires it for good."""
        with self._lock:
            self._busy.discard(uid)
            if not clean:
                self._retired.add(uid)

    def in_use(self) -> int:
        """How many uids running sandboxes hold now."""
        with self._lock:
            return len(self._busy)


def _uids_in_use(uids: range) -> set[int]:
    """Real uids of the host's processes that fall in `uids` (one pass over /proc)."""
    found: set[int] = set()
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            uid = os.stat(f"/proc/{entry}").st_uid
        except OSError:
            continue
        if uid in uids:
            found.add(uid)
    return found
