"""Fork bomb: every child forks forever; the pids limit must hold and all must die."""
import os
import time


def process(input_data):
    children, errors = 0, 0
    for _ in range(100000):
        try:
            pid = os.fork()
        except OSError:
            errors += 1
            if errors > 50:
                break
            continue
        if pid == 0:
            while True:
                try:
                    os.fork()
                except OSError:
                    time.sleep(0.01)
        children += 1
    return {"children": children, "fork_errors": errors}
