"""The state machines allow exactly the documented moves."""

from __future__ import annotations

import pytest

from runsurge.errors import InvalidTransition
from runsurge.store.states import (
    AttemptState,
    JobState,
    TaskState,
    can_transition,
    transition,
)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (JobState.SUBMITTING, JobState.QUEUED),
        (JobState.QUEUED, JobState.RUNNING),
        (JobState.RUNNING, JobState.SUCCEEDED),
        (JobState.RUNNING, JobState.CANCELLED),
        (TaskState.QUEUED, TaskState.RUNNING),
        (TaskState.RUNNING, TaskState.QUEUED),
        (TaskState.RUNNING, TaskState.SUCCEEDED),
        (AttemptState.RUNNING, AttemptState.LOST),
    ],
)
def test_documented_moves_are_allowed(current: JobState, target: JobState) -> None:
    assert transition(current, target) is target


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (JobState.SUCCEEDED, JobState.RUNNING),
        (JobState.CANCELLED, JobState.QUEUED),
        (JobState.SUBMITTING, JobState.RUNNING),
        (TaskState.SUCCEEDED, TaskState.QUEUED),
        (TaskState.QUEUED, TaskState.SUCCEEDED),
        (TaskState.FAILED, TaskState.RUNNING),
        (AttemptState.LOST, AttemptState.SUCCEEDED),
        (AttemptState.SUCCEEDED, AttemptState.RUNNING),
    ],
)
def test_other_moves_raise_naming_both_states(current: JobState, target: JobState) -> None:
    with pytest.raises(InvalidTransition, match=f"from {current.value} to {target.value}"):
        transition(current, target, "thing 7")


def test_final_states_allow_nothing() -> None:
    for machine in (JobState, TaskState, AttemptState):
        for state in machine:
            if state.final:
                assert not any(can_transition(state, other) for other in machine)
