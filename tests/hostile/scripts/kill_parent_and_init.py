"""SIGKILL the parent, PID 1 and every process we may signal."""
import os
import signal


def process(input_data):
    out = {"ppid": os.getppid()}
    for target in (os.getppid(), 1):
        try:
            os.kill(target, signal.SIGKILL)
            out[str(target)] = "sent"
        except OSError as exc:
            out[str(target)] = type(exc).__name__
    try:
        os.kill(-1, signal.SIGKILL)
        out["-1"] = "sent"
    except OSError as exc:
        out["-1"] = type(exc).__name__
    out["parent_alive"] = os.path.exists("/proc/1")
    return out
