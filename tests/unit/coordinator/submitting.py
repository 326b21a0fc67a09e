"""Receiving a submission stream through `Submission`, as the SubmitJob servicer does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from runsurge.coordinator.submission import Submission, SubmissionItem, SubmissionLimits
from tests.unit.coordinator.scene import MiB, Scene

LIMITS = SubmissionLimits(
    max_script_bytes=64 * 1024, max_input_bytes=1024, memory_reservation_bytes=256 * MiB
)


def receive(scene: Scene, consumer: str, items: Sequence[SubmissionItem | Exception]) -> str:
    """Feed `items` to a new Submission; an Exception among them breaks the stream there."""

    async def stream() -> AsyncIterator[SubmissionItem]:
        for item in items:
            if isinstance(item, Exception):
                raise item
            yield item

    submission = Submission(scene.db, scene.blobs, None, consumer, LIMITS)
    return asyncio.run(submission.receive(stream()))
