"""Actual peaks of finished tasks, per script hash and per group, as points to fit.

The first finished tasks of a group calibrate the rest: their (input size, actual peak)
points are fitted like probe points, but they are whole runs, so they need no
extrapolation from a prefix.  When every input of a script is a number (a size read
from the input), the points are taken against that number rather than the input's
length, which predicts nothing there.  In memory here; the coordinator persists them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from runsurge.estimate.static import InputFeatures, describe_input

MAX_POINTS = 256  # per key: the newest are kept


@dataclass(frozen=True)
class Observation:
    """One finished task: its input's features and the peak its sandbox measured."""

    input_size: int
    numeric_value: float | None
    peak_bytes: int


@dataclass(frozen=True)
class HistoryPoints:
    """Points (x, peak above baseline) and what x is ("size" or "value")."""

    axis: str
    points: tuple[tuple[float, float], ...]

    def interpolate(self, x: float) -> float | None:
        """A bound at `x` within the observed range, or None beyond the largest x.

        Memory grows with input and, for the shapes seen in practice (linear, n log n,
        quadratic), convexly: the chord between the neighbouring points lies above the
        curve.  The lower end is the largest peak seen at or below `x` (the upper
        envelope), so that a noisy dip does not lower the bound; below the smallest
        observation the smallest observation's peak bounds it.
        """
        xs = sorted({px for px, _ in self.points})
        if x > xs[-1]:
            return None
        above = min(px for px in xs if px >= x)
        y_above = max(y for px, y in self.points if px == above)
        below = [(px, y) for px, y in self.points if px <= x]
        if not below:
            return y_above
        x_below = max(px for px, _ in below)
        y_below = max(y for _, y in below)
        if above == x_below:
            return max(y_below, y_above)
        chord = y_below + (y_above - y_below) * (x - x_below) / (above - x_below)
        return max(chord, y_below)

    def nearest_x(self, x: float) -> float:
        """The observed x closest to `x` (log scale)."""
        return min((p[0] for p in self.points), key=lambda px: abs(px - x) / max(px, x, 1.0))


class History:
    """Observations per script hash and per group; newest first when trimmed."""

    def __init__(self) -> None:
        self._by_key: dict[str, list[Observation]] = defaultdict(list)

    def record(self, script_hash: str, observation: Observation, group: str = "") -> None:
        """Remember one finished task under its script and (if any) its group."""
        for key in _keys(script_hash, group):
            observations = self._by_key[key]
            observations.append(observation)
            del observations[:-MAX_POINTS]

    def record_peak(self, script_hash: str, data: bytes, peak_bytes: int, group: str = "") -> None:
        """Remember that `script_hash` peaked at `peak_bytes` on `data`."""
        features = describe_input(data)
        observation = Observation(features.size, features.numeric_value, peak_bytes)
        self.record(script_hash, observation, group)

    def observations(self, script_hash: str, group: str = "") -> list[Observation]:
        """The group's observations if it has any, else the script's."""
        for key in reversed(_keys(script_hash, group)):
            if self._by_key.get(key):
                return list(self._by_key[key])
        return []

    def points(
        self, script_hash: str, target: InputFeatures, baseline_bytes: int, group: str = ""
    ) -> HistoryPoints | None:
        """The points to fit for `target`, or None when there is no history."""
        observations = self.observations(script_hash, group)
        if not observations:
            return None
        by_value = target.numeric_value is not None and all(
            o.numeric_value is not None for o in observations
        )
        points = tuple(
            (_x(o, by_value), float(max(0, o.peak_bytes - baseline_bytes))) for o in observations
        )
        return HistoryPoints("value" if by_value else "size", points)


def _x(observation: Observation, by_value: bool) -> float:
    if by_value and observation.numeric_value is not None:
        return observation.numeric_value
    return float(observation.input_size)


def _keys(script_hash: str, group: str) -> list[str]:
    keys = [f"script:{script_hash}"]
    if group:
        keys.append(f"group:{group}")
    return keys
