"""Resample sensor readings into hourly buckets and flag anomalies."""
import statistics
from collections import defaultdict
from datetime import datetime, timezone


def bucket(ts: str) -> str:
    dt = datetime.fromisoformat(ts).astimezone(timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:00Z")


def process(input_data: str) -> dict:
    buckets: defaultdict[str, list[float]] = defaultdict(list)
    for line in input_data.splitlines():
        if not line or line.startswith("#"):
            continue
        ts, value = line.split(",", 1)
        buckets[bucket(ts)].append(float(value))
    means = {k: statistics.fmean(v) for k, v in sorted(buckets.items())}
    values = list(means.values())
    mu = statistics.fmean(values) if values else 0.0
    sigma = statistics.pstdev(values) if len(values) > 1 else 0.0
    anomalies = [k for k, v in means.items() if sigma and abs(v - mu) > 3 * sigma]
    return {"hours": len(means), "means": means, "anomalies": anomalies}
