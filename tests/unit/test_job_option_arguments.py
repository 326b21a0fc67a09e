"""The SDK's per-job keyword arguments and the CLI's flags, checked before anything connects."""

from __future__ import annotations

import pytest

from runsurge.cli.job_flags import job_options
from runsurge.client._options import spec_fields
from runsurge.errors import InvalidRequest


def test_durations_accept_seconds_and_unit_suffixes() -> None:
    fields = spec_fields({"wall_time": "5m", "cpu_time": 30})

    assert (fields["wall_seconds"], fields["cpu_seconds"]) == (300.0, 30.0)


def test_unset_options_mean_the_coordinators_own() -> None:
    assert spec_fields({}) == {
        "wall_seconds": 0.0,
        "cpu_seconds": 0.0,
        "max_attempts": 0,
        "priority": 0,
        "labels": {},
        "idempotency_key": "",
    }


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"wall_time": "soon"}, "wall_time: not a duration: 'soon'"),
        ({"cpu_time": 0}, "cpu_time: not a duration"),
        ({"max_attempts": 0}, "max_attempts must be an int of at least 1"),
        ({"priority": 2**31}, "priority must be an int that fits in 32 bits"),
        ({"labels": {"team": 7}}, "labels must map str to str"),
        ({"idempotency_key": ""}, "idempotency_key must be a non-empty str"),
    ],
)
def test_bad_keyword_arguments_are_refused_naming_them(
    options: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidRequest, match=message):
        spec_fields(options)


def test_an_unknown_keyword_argument_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="wall_tme"):
        spec_fields({"wall_tme": "5s"})


def test_cli_flags_become_keyword_arguments() -> None:
    options = job_options("30s", "1m", 2, 5, ["team=ml", "note=a=b"], "k1")

    assert options == {
        "wall_time": 30.0,
        "cpu_time": 60.0,
        "max_attempts": 2,
        "priority": 5,
        "labels": {"team": "ml", "note": "a=b"},
        "idempotency_key": "k1",
    }


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("forever", None, None, 0, None, None), "--wall-time: not a duration"),
        ((None, "-1s", None, 0, None, None), "--cpu-time: not a duration"),
        ((None, None, None, 0, ["team"], None), "--label 'team': use key=value"),
    ],
)
def test_bad_cli_flags_are_refused_naming_the_flag(
    flags: tuple[str | None, str | None, int | None, int, list[str] | None, str | None],
    message: str,
) -> None:
    with pytest.raises(InvalidRequest, match=message):
        job_options(*flags)
