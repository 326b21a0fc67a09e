import hashlib


def process(input_data: str) -> dict:
    encoded = input_data.upper().encode()
    return {"sha256": hashlib.sha256(encoded).hexdigest()}
