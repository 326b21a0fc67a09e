import json


def process(input_data: str) -> dict:
    records = [json.loads(line) for line in input_data.splitlines() if line]
    return {"records": len(records), "total": sum(r["value"] for r in records)}
