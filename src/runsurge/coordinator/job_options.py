"""A consumer's per-job options, and the coordinator's maxima that bound them.

A consumer may lower the coordinator's wall-time, CPU-time and attempt limits for
one job, never raise them: a value above the coordinator's maximum is refused at
submission (INVALID_ARGUMENT, naming the flag and the maximum) rather than silently
clamped, so a job never runs under limits other than the ones it asked for. 0 means
"the coordinator's own". The limits are applied in one place, coordinator/policy.py
(wall and CPU time) and coordinator/retries.py (attempts); priority orders only the
consumer's own jobs (coordinator/fairness.py). Labels and the idempotency key are
shown back, never interpreted beyond that (the key: coordinator/idempotency.py).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from runsurge.errors import InvalidRequest
from runsurge.proto.v1 import consumer_pb2

MAX_LABELS = 32
MAX_LABEL_VALUE = 256
MAX_IDEMPOTENCY_KEY = 128
# Keys in the style of Kubernetes label names: short, no spaces or '=' to misparse.
_LABEL_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-/]{0,62}")
_INT32 = 2**31


@dataclass(frozen=True)
class OptionMaxima:
    """The coordinator's own limits: every job's options must stay within them."""

    wall_seconds: float
    cpu_seconds: float
    max_attempts: int


@dataclass(frozen=True)
class JobOptions:
    """What a consumer chose for one job (0 or empty: the coordinator's own)."""

    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0
    max_attempts: int = 0
    priority: int = 0  # higher first, among this consumer's own jobs
    labels: Mapping[str, str] = field(default_factory=dict)
    idempotency_key: str = ""

    def validate(self, maxima: OptionMaxima) -> None:
        """Refuse a value that is malformed or above the coordinator's maximum."""
        _check_seconds("--wall-time", self.wall_seconds, maxima.wall_seconds, "task_wall_seconds")
        _check_seconds("--cpu-time", self.cpu_seconds, maxima.cpu_seconds, "task_cpu_seconds")
        if self.max_attempts < 0:
            raise InvalidRequest(f"--max-attempts must be at least 1, not {self.max_attempts}")
        if self.max_attempts > maxima.max_attempts:
            raise InvalidRequest(
                f"--max-attempts {self.max_attempts} is above this coordinator's maximum of "
                f"{maxima.max_attempts} (max_attempts)"
            )
        if not -_INT32 <= self.priority < _INT32:
            raise InvalidRequest(f"--priority must fit in 32 bits, not {self.priority}")
        _check_labels(self.labels)
        if len(self.idempotency_key) > MAX_IDEMPOTENCY_KEY:
            raise InvalidRequest(
                f"--idempotency-key is {len(self.idempotency_key)} characters; "
                f"at most {MAX_IDEMPOTENCY_KEY}"
            )

    @classmethod
    def of_spec(cls, spec: consumer_pb2.JobSpec) -> JobOptions:
        """The options a submission's spec carries (not yet validated)."""
        return cls(
            wall_seconds=spec.wall_seconds,
            cpu_seconds=spec.cpu_seconds,
            max_attempts=spec.max_attempts,
            priority=spec.priority,
            labels=dict(spec.labels),
            idempotency_key=spec.idempotency_key,
        )

    def labels_json(self) -> str:
        """The labels as stored on the job row."""
        return json.dumps(dict(sorted(self.labels.items())))


def labels_from_json(text: str) -> dict[str, str]:
    """The labels of a job row."""
    value = json.loads(text or "{}")
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _check_seconds(flag: str, value: float, maximum: float, setting: str) -> None:
    if math.isnan(value) or value < 0 or math.isinf(value):
        raise InvalidRequest(f"{flag} must be a positive duration, not {value}")
    if value > maximum:
        raise InvalidRequest(
            f"{flag} {value:g}s is above this coordinator's maximum of {maximum:g}s ({setting})"
        )


def _check_labels(labels: Mapping[str, str]) -> None:
    if len(labels) > MAX_LABELS:
        raise InvalidRequest(f"a job may have at most {MAX_LABELS} labels, not {len(labels)}")
    for key, value in labels.items():
        if not _LABEL_KEY.fullmatch(key):
            raise InvalidRequest(
                f"--label key {key!r} must be 1-63 letters, digits or '_.-/', "
                "starting with a letter or digit"
            )
        if len(value) > MAX_LABEL_VALUE:
            raise InvalidRequest(
                f"--label {key}: the value is {len(value)} characters; at most {MAX_LABEL_VALUE}"
            )
