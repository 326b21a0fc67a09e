# expect: runsurge.dynamic.exec
import base64

PAYLOAD = "aW1wb3J0IG9zOyBvcy5zeXN0ZW0oImlkIik="


def process(input_data: str) -> dict:
    exec(base64.b64decode(PAYLOAD))
    return {}
