"""Start 100,000 threads."""
import threading
import time


def process(input_data):
    started, error = 0, None
    for _ in range(100000):
        try:
            threading.Thread(target=time.sleep, args=(5,), daemon=True).start()
        except RuntimeError as exc:
            error = str(exc)
            break
        started += 1
    return {"started": started, "error": error}
