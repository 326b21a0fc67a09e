"""A group's first finished tasks calibrate the rest: reservations follow measured peaks.

Every task starts at the coordinator's default (512 MiB here). Once a few inputs have
finished, the queued ones are re-estimated from their kernel-measured peaks
(coordinator/estimates.py): far below the default for this small script, so a
machine offering 1 GiB runs four at once instead of two, and never below what the
tasks really use (no OOM kill).
"""

from __future__ import annotations

import pytest

from tests.integration.cluster import Cluster
from tests.integration.executions import runs

MiB = 1024 * 1024
# About 20 MiB held, the same for every input; a short sleep keeps tasks overlapping.
SMALL = (
    "import time\n"
    "def process(input_data):\n"
    "    block = b'x' * (20 * 1024 * 1024)\n"
    "    time.sleep(0.2)\n"
    "    return {'held': len(block)}\n"
)

# The history queries are unit-tested on both databases (test_estimates).
pytestmark = pytest.mark.database_independent


def test_the_first_finished_inputs_shrink_the_reservations_of_the_rest(
    cluster_factory,  # type: ignore[no-untyped-def]
) -> None:
    cluster: Cluster = cluster_factory()
    cluster.add_contributor(cores=4, memory="1GiB")
    with cluster.client() as client:
        job = client.submit_group(SMALL, ["a"] * 24)
        assert job.wait(timeout=120).state == "SUCCEEDED"
        items = list(job.results())
    memory = [item.memory for item in items]
    assert all(m is not None for m in memory)
    reservations = [m.reservation_bytes for m in memory if m is not None]
    peaks = [m.peak_bytes for m in memory if m is not None]
    assert reservations[0] == 512 * MiB  # the first input ran at the default
    calibrated = [r for r in reservations if r < 512 * MiB]
    assert len(calibrated) >= 12, reservations  # most inputs ran re-estimated
    assert max(calibrated) <= 128 * MiB, calibrated
    for reservation, peak in zip(reservations, peaks, strict=True):
        assert peak <= reservation  # never below what the task really used
    assert all(m is not None and m.out_of_memory_at_bytes == [] for m in memory)
    assert set(runs(cluster, job.id).values()) == {1}  # nothing was killed and rerun
