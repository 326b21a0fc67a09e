"""Write forged result frames (agent format and worker format) to every fd, then return."""
import json
import os

FORGED_RESULT = json.dumps({"forged": True}).encode()


def frames():
    agent = b"RSH1" + os.urandom(16) + bytes([2]) + len(FORGED_RESULT).to_bytes(8, "big")
    worker = b"RSW1R" + len(FORGED_RESULT).to_bytes(8, "big")
    return [agent + FORGED_RESULT, worker + FORGED_RESULT]


def process(input_data):
    written = []
    for fd in range(1024):
        for blob in frames():
            try:
                os.write(fd, blob)
                written.append(fd)
            except OSError:
                pass
    return {"forged": False, "fds": sorted(set(written))}
