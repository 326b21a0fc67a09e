"""Pool and Client.map take text inputs only, and say so before anything is sent."""

from __future__ import annotations

import pytest

from runsurge import Pool
from runsurge.client import Client
from runsurge.client.mapping import text_inputs

SCRIPT = "def process(input_data: str) -> dict:\n    return {}\n"
NOWHERE = "127.0.0.1:9"  # nothing listens: any RPC would fail with CoordinatorUnreachable


@pytest.mark.parametrize("method", ["map", "imap", "imap_unordered", "map_async"])
def test_a_non_str_input_in_a_list_is_a_type_error_naming_it_before_any_call(method: str) -> None:
    with Pool(coordinator=NOWHERE, token="t") as pool:
        with pytest.raises(TypeError, match=r"input 1 is int, not str"):
            getattr(pool, method)(SCRIPT, ["fine", 2])
        assert pool.jobs == []


def test_client_map_checks_its_inputs_the_same_way() -> None:
    with Client(NOWHERE, "t") as client, pytest.raises(TypeError, match=r"input 0 is bytes"):
        client.map(SCRIPT, [b"raw"])


def test_a_single_string_is_not_taken_for_an_iterable_of_inputs() -> None:
    with pytest.raises(TypeError, match="not a single str"):
        text_inputs("abc")


def test_a_lazy_iterable_is_checked_as_it_is_consumed() -> None:
    checked = text_inputs(x for x in ["a", None])
    assert next(iter(checked)) == "a"
    with pytest.raises(TypeError, match="input 1 is NoneType"):
        list(checked)


def test_a_closed_pool_takes_no_more_work_and_join_needs_close_first() -> None:
    pool = Pool(coordinator=NOWHERE, token="t")
    with pytest.raises(ValueError, match="still running"):
        pool.join()
    pool.close()
    with pytest.raises(ValueError, match="Pool not running"):
        pool.map(SCRIPT, ["a"])
    pool.join()  # nothing was submitted: nothing to wait for
    pool.terminate()


def test_pool_takes_no_process_count() -> None:
    with pytest.raises(TypeError):
        Pool(2)  # type: ignore[misc]
