"""Read where every descriptor points, at import time and in process(): the input's host path?"""
import os


def _links():
    found = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            found[name] = os.readlink(f"/proc/self/fd/{name}")
        except OSError as exc:
            found[name] = type(exc).__name__
    return found


AT_IMPORT = _links()


def process(input_data):
    return {"import": AT_IMPORT, "process": _links()}
