import json


def process(input_data: str) -> dict:
    document = json.loads(input_data)
    return {"items": len(document["items"])}
