"""The sandbox uid pool: one uid per running sandbox, never nobody, never a dirty one."""

from __future__ import annotations

import threading

import pytest

from runsurge.sandbox.uids import DEFAULT_SANDBOX_UIDS, UidPool, UidsExhausted


def test_concurrent_holders_get_distinct_uids_of_the_range() -> None:
    pool = UidPool(range(3_000_000_000, 3_000_000_064))
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


def test_a_released_uid_is_reused_and_a_dirty_one_never() -> None:
    pool = UidPool(range(3_000_000_000, 3_000_000_002))
    first, second = pool.acquire(), pool.acquire()
    pool.release(first, clean=True)
    pool.release(second, clean=False)  # its teardown found processes left
    assert pool.acquire() == first
    with pytest.raises(UidsExhausted):
        pool.acquire()
    assert pool.in_use() == 1


def test_the_range_cannot_include_nobody_or_system_uids() -> None:
    for bad in (range(60000, 70000), range(0, 10), range(3_000_000_000, 3_000_000_010, 2)):
        with pytest.raises(ValueError, match="contiguous range above 65534"):
            UidPool(bad)
    assert DEFAULT_SANDBOX_UIDS.start > 65534
