"""Double-fork, setsid, rename and sleep: a daemon meant to outlive the task."""
import ctypes
import json
import os
import time

PR_SET_NAME = 15


def process(input_data):
    marker = json.loads(input_data)["marker"]
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            ctypes.CDLL(None).prctl(PR_SET_NAME, marker.encode(), 0, 0, 0)
            while True:
                time.sleep(1)
        os._exit(0)
    time.sleep(0.2)  # let the daemon settle before returning
    return {"spawned": True}
