"""Which queued task runs next: fewest running per consumer, then per job, then oldest."""

from __future__ import annotations

from runsurge.coordinator.fairness import fair_job_order, next_task
from runsurge.coordinator.jobs import GroupOptions
from runsurge.store.states import JobState
from tests.unit.coordinator.scene import GiB, MiB, Scene


def test_fairness_prefers_consumer_with_fewer_running(scene: Scene) -> None:
    busy, idle = scene.consumer("busy"), scene.consumer("idle")
    machine = scene.contributor(cores=4)
    scene.submit(busy, [b"1", b"2"])
    scene.claimed(machine)  # the busy consumer now runs one task
    busy_single = scene.submit(busy, [b"older, but its consumer is busy"])
    idle_single = scene.submit(idle, [b"newer, from a consumer running nothing"])

    assert scene.claimed(machine).job_id == idle_single
    assert scene.claimed(machine).job_id == busy_single


def test_fairness_prefers_the_consumers_job_with_fewer_running(scene: Scene) -> None:
    consumer = scene.consumer()
    machine = scene.contributor(cores=4)
    group = scene.submit(consumer, [b"%d" % i for i in range(10)])
    scene.claimed(machine)
    scene.claimed(machine)
    single = scene.submit(consumer, [b"single"])

    assert scene.claimed(machine).job_id == single
    assert scene.claimed(machine).job_id == group


def test_older_job_goes_first_when_running_counts_tie(scene: Scene) -> None:
    a, b = scene.consumer("a"), scene.consumer("b")
    older = scene.submit(a, [b"1"])
    newer = scene.submit(b, [b"2"])

    assert scene.db.call(fair_job_order) == [older, newer]


def test_tasks_of_a_job_run_in_input_order(scene: Scene) -> None:
    group = scene.submit(scene.consumer(), [b"0", b"1", b"2"])
    machine = scene.contributor(cores=2)

    indexes = [scene.claimed(machine).task_index for _ in range(3)]

    assert indexes == [0, 1, 2]
    assert scene.job(group).running_count == 3


def test_job_whose_tasks_do_not_fit_does_not_block_one_that_does(scene: Scene) -> None:
    consumer = scene.consumer()
    big = scene.submit(consumer, [b"big"], reservation=2 * GiB)
    small = scene.submit(consumer, [b"small"], reservation=256 * MiB)

    found = scene.db.call(next_task, 1 * GiB)

    assert found is not None and found[1] == small
    assert scene.db.call(next_task, 2 * GiB) == (scene.task(big, 0).id, big)


def test_finished_and_fully_running_jobs_are_not_candidates(scene: Scene) -> None:
    consumer = scene.consumer()
    machine = scene.contributor()
    done = scene.submit(consumer, [b"done"])
    scene.report(machine, scene.claimed(machine).attempt_id)
    running = scene.submit(consumer, [b"running"])
    scene.claimed(machine)

    assert done not in scene.db.call(fair_job_order)
    assert running not in scene.db.call(fair_job_order)
    assert scene.db.call(next_task, 4 * GiB) is None


def test_small_job_behind_forty_jobs_too_big_for_the_free_memory_still_runs(
    scene: Scene,
) -> None:
    consumer = scene.consumer()
    for n in range(40):
        scene.submit(consumer, [b"big %d" % n], reservation=2 * GiB)
    small = scene.submit(consumer, [b"small"], reservation=256 * MiB)

    found = scene.db.call(next_task, 1 * GiB)

    assert found == (scene.task(small, 0).id, small)


def test_groups_waiting_for_their_fan_in_do_not_hide_runnable_work(scene: Scene) -> None:
    consumer, machine = scene.consumer(), scene.contributor(cores=64)
    options = GroupOptions(aggregate_script=True)
    for n in range(40):  # each reaches AGGREGATING with no aggregate task queued yet
        group = scene.submit(consumer, [b"%d" % n], options=options)
        scene.report(machine, scene.claimed(machine).attempt_id)
        assert scene.job(group).state is JobState.AGGREGATING
    waiting = scene.submit(consumer, [b"waiting"])

    assert scene.db.call(fair_job_order) == [waiting]
    assert scene.claimed(machine).job_id == waiting


def test_single_job_goes_first_at_a_one_slot_machine_behind_a_group(scene: Scene) -> None:
    consumer, machine = scene.consumer(), scene.contributor()
    group = scene.submit(consumer, [b"%d" % i for i in range(10)])
    scene.report(machine, scene.claimed(machine).attempt_id)  # the slot frees: 0 running
    single = scene.submit(consumer, [b"single"])

    assert scene.claimed(machine).job_id == single
    assert scene.claimed(machine).job_id == group
