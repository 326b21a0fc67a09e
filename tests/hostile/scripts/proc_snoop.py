"""Enumerate /proc for other processes and their command lines."""
import os


def process(input_data):
    found = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/cmdline", "rb") as f:
                    found[name] = f.read().replace(b"\0", b" ").decode(errors="replace")
            except OSError as exc:
                found[name] = type(exc).__name__
    return {"pids": found, "self": os.getpid()}
