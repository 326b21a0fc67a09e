"""Warm sandboxes kept between inputs of the same job.

Starting a sandbox costs tens of milliseconds; a group of many small inputs would
spend most of its time there. After an input finishes, its sandbox (which has the
job's script imported) is kept idle for a few seconds; the next input of the same job
on this agent reuses it. Sessions are keyed by job and script, so nothing crosses
from one consumer's work to another's; they are recycled after `max_runs` inputs and
closed when idle too long, when they died, or when the agent stops.

An idle session still holds memory (the imported script's state), so it counts
against the agent's admission (`slots.py`): its reservation is held until it is
closed, and a task that needs the memory evicts idle sessions of other jobs, least
recently used first, instead of waiting for them to expire. (Idle sessions are also
frozen by the sandbox, so they use no CPU.)
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from runsurge.sandbox.policy import SandboxPolicy
from runsurge.sandbox.runner import WarmSession

log = logging.getLogger(__name__)

SessionKey = tuple[str, str]  # (job id, script sha256)


@dataclass
class _Idle:
    session: WarmSession
    policy: SandboxPolicy
    since: float


class WarmPool:
    """Idle warm sessions by job; every method is cheap except `close_*`, which kill."""

    def __init__(self, max_idle: int, idle_seconds: float = 5.0, max_runs: int = 500) -> None:
        self.max_idle = max_idle
        self.idle_seconds = idle_seconds
        self.max_runs = max_runs
        self._idle: dict[SessionKey, list[_Idle]] = {}
        self._lock = threading.Lock()

    def take(
        self, key: SessionKey, policy: SandboxPolicy
    ) -> tuple[WarmSession, SandboxPolicy] | None:
        """An idle session for this job that can run under `policy`, with its own policy."""
        with self._lock:
            entries = self._idle.get(key, [])
            while entries:
                entry = entries.pop()
                if entry.session.alive and _covers(entry.policy, policy):
                    return entry.session, entry.policy
                self._close_later(entry.session)
            self._idle.pop(key, None)
        return None

    def give_back(self, key: SessionKey, session: WarmSession, policy: SandboxPolicy) -> None:
        """Keep a session (opened with `policy`) for the job's next input, or close it."""
        keep = session.alive and session.runs < self.max_runs
        with self._lock:
            if keep and self._count() < self.max_idle:
                self._idle.setdefault(key, []).append(_Idle(session, policy, time.monotonic()))
                return
        session.close()

    def close_expired(self) -> None:
        """Close sessions idle longer than `idle_seconds` (called periodically)."""
        now = time.monotonic()
        expired: list[WarmSession] = []
        with self._lock:
            for key in list(self._idle):
                fresh = [e for e in self._idle[key] if now - e.since <= self.idle_seconds]
                expired += [e.session for e in self._idle[key] if now - e.since > self.idle_seconds]
                if fresh:
                    self._idle[key] = fresh
                else:
                    del self._idle[key]
        for session in expired:
            session.close()

    def close_all(self) -> None:
        """Close every idle session (agent shutdown)."""
        with self._lock:
            sessions = [e.session for entries in self._idle.values() for e in entries]
            self._idle.clear()
        for session in sessions:
            session.close()

    def held_bytes(self, sparing: SessionKey | None = None) -> int:
        """Memory reserved by idle sessions; one of `sparing`'s, about to be reused, excepted."""
        with self._lock:
            total = sum(e.policy.memory_bytes for entries in self._idle.values() for e in entries)
            spared = self._idle.get(sparing, []) if sparing is not None else []
            return total - (spared[-1].policy.memory_bytes if spared else 0)

    def evict(self, needed_bytes: int, sparing: SessionKey | None = None) -> int:
        """Close idle sessions of other jobs, oldest first, until `needed_bytes` are freed.

        They are taken out at once (their memory counts as free from now on) and closed
        on background threads. Returns the bytes freed.
        """
        freed = 0
        victims: list[WarmSession] = []
        with self._lock:
            candidates = sorted(
                ((e.since, key, e) for key, entries in self._idle.items() if key != sparing
                 for e in entries),
                key=lambda item: item[0],
            )  # fmt: skip
            for _since, key, entry in candidates:
                if freed >= needed_bytes:
                    break
                self._idle[key].remove(entry)
                if not self._idle[key]:
                    del self._idle[key]
                victims.append(entry.session)
                freed += entry.policy.memory_bytes
        for session in victims:
            log.info("closing an idle warm session to free memory for another job")
            self._close_later(session)
        return freed

    def _count(self) -> int:
        return sum(len(entries) for entries in self._idle.values())

    def _close_later(self, session: WarmSession) -> None:
        threading.Thread(target=session.close, name="warm-close", daemon=True).start()


def _covers(opened_with: SandboxPolicy, wanted: SandboxPolicy) -> bool:
    """A session sized for `opened_with` can run an input needing `wanted`."""
    return (
        wanted.memory_bytes <= opened_with.memory_bytes
        and wanted.pids <= opened_with.pids
        and wanted.workdir_bytes <= opened_with.workdir_bytes
    )
