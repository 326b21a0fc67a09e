"""The sandbox uid pool: one uid per running sandbox, never nobody, never a dirty one."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from runsurge.sandbox.uids import DEFAULT_SANDBOX_UIDS, UidPool, UidsExhausted


def test_concurrent_holders_get_distinct_uids_of_the_range(tmp_path: Path) -> None:
    pool = UidPool(range(3_000_000_000, 3_000_000_064), tmp_path)
    got: list[int] = []
    lock = threading.Lock()

    def take() -> None:
        for _ in range(8):
            uid = pool.acquire()
            with lock:
                got.append(uid)

    threads = [threading.Thread(target=take) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(got)) == 64 and all(uid in pool.uids for uid in got)
    with pytest.raises(UidsExhausted, match="all 64 sandbox uids"):
        pool.acquire()


def test_a_released_uid_is_reused_and_a_dirty_one_never(tmp_path: Path) -> None:
    pool = UidPool(range(3_000_000_000, 3_000_000_002), tmp_path)
    first, second = pool.acquire(), pool.acquire()
    pool.release(first, clean=True)
    pool.release(second, clean=False)  # its teardown found processes left
    assert pool.acquire() == first
    with pytest.raises(UidsExhausted):
        pool.acquire()
    assert pool.in_use() == 1


def test_the_range_cannot_include_nobody_or_system_uids(tmp_path: Path) -> None:
    for bad in (range(60000, 70000), range(0, 10), range(3_000_000_000, 3_000_000_010, 2)):
        with pytest.raises(ValueError, match="contiguous range above 65534"):
            UidPool(bad, tmp_path)
    assert DEFAULT_SANDBOX_UIDS.start > 65534


def test_two_agents_on_one_host_never_hand_out_the_same_uid(tmp_path: Path) -> None:
    uids = range(3_000_000_000, 3_000_000_004)
    first, second = UidPool(uids, tmp_path), UidPool(uids, tmp_path)  # two agents
    taken = [first.acquire(), second.acquire(), first.acquire(), second.acquire()]
    assert sorted(taken) == list(uids)
    with pytest.raises(UidsExhausted):
        second.acquire()
    first.release(taken[0], clean=True)
    assert second.acquire() == taken[0]  # free again once its holder let go


def test_a_dirty_uid_stays_locked_against_other_agents_too(tmp_path: Path) -> None:
    uids = range(3_000_000_000, 3_000_000_001)
    first, second = UidPool(uids, tmp_path), UidPool(uids, tmp_path)
    uid = first.acquire()
    first.release(uid, clean=False)
    with pytest.raises(UidsExhausted):
        second.acquire()
