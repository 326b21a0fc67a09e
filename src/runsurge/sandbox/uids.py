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

Several agents may run on one host (and `runsurge up` starts several): a uid is
held by an exclusive ``flock`` on its own file in a shared lock directory, so two
agents never hand out the same uid, and a uid whose agent died (its lock went with
it) becomes free again only if no process still runs as it.

The range must not be used by anyone else on the host; the default sits far above
the usual system, user, ``subuid`` and systemd dynamic-user ranges.
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

DEFAULT_SANDBOX_UIDS = range(2_100_000_000, 2_100_065_536)
DEFAULT_LOCK_DIR = Path("/run/runsurge-sandbox/uids")


class UidsExhausted(RuntimeError):
    """Every uid of the range is in use (or retired); no sandbox can start."""


class UidPool:
    """Hands out uids of a reserved range, one per running sandbox; thread-safe."""

    def __init__(
        self, uids: range = DEFAULT_SANDBOX_UIDS, lock_dir: Path = DEFAULT_LOCK_DIR
    ) -> None:
        if not uids or uids.start <= 65534 or uids.stop > 2**32 - 1 or uids.step != 1:
            raise ValueError(f"sandbox uids must be a contiguous range above 65534, not {uids}")
        self.uids = uids
        self._lock_dir = lock_dir
        lock_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock = threading.Lock()
        # Start where another agent is unlikely to be (they skip each other's locks).
        self._next = uids.start + (os.getpid() * 7919) % len(uids)
        self._held: dict[int, int] = {}  # uid -> the descriptor holding its lock
        self._retired: set[int] = set()
        self._verified: set[int] = set()  # used and cleaned by us: no /proc scan again

    def acquire(self) -> int:
        """A uid no running sandbox of any agent here holds, and no process runs as."""
        with self._lock:
            for _ in range(len(self.uids)):
                uid = self._next
                self._next = uid + 1 if uid + 1 < self.uids.stop else self.uids.start
                if uid in self._held or uid in self._retired:
                    continue
                fd = self._try_lock(uid)
                if fd is None:
                    continue
                if uid not in self._verified and _uid_in_use(uid):
                    os.close(fd)  # left running by an agent that died hard
                    self._retired.add(uid)
                    continue
                self._held[uid] = fd
                return uid
        raise UidsExhausted(f"all {len(self.uids)} sandbox uids {self.uids} are in use")

    def release(self, uid: int, clean: bool) -> None:
        """Give `uid` back; `clean` False (processes may remain) retires it for good."""
        with self._lock:
            fd = self._held.pop(uid, None)
            if not clean:
                self._retired.add(uid)  # and keep its lock: no other agent takes it
                return
            self._verified.add(uid)
        if fd is not None:
            os.close(fd)

    def in_use(self) -> int:
        """How many uids this pool's running sandboxes hold now."""
        with self._lock:
            return len(self._held)

    def _try_lock(self, uid: int) -> int | None:
        fd = os.open(self._lock_dir / str(uid), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return fd


def _uid_in_use(uid: int) -> bool:
    """Whether any process on this host runs as `uid` (one pass over /proc)."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return False
    for entry in entries:
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    return True
            except OSError:
                continue
    return False
