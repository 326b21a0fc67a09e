"""Flatten nested JSON records into dotted keys."""
import json
from typing import Any


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(value, dict):
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}{k}."))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.update(flatten(v, f"{prefix}{i}."))
    else:
        out[prefix.rstrip(".")] = value
    return out


def process(input_data: str) -> dict:
    records = [json.loads(line) for line in input_data.splitlines() if line.strip()]
    flat = [flatten(r) for r in records]
    keys = sorted({k for f in flat for k in f})
    return {"records": len(flat), "keys": keys, "first": flat[0] if flat else None}
