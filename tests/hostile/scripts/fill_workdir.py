"""Write to the work dir until it is full."""
import os


def process(input_data):
    written, index = 0, 0
    chunk = b"x" * (1 << 20)
    while True:
        try:
            with open(f"/work/fill-{index}", "wb") as f:
                for _ in range(4):
                    f.write(chunk)
                    f.flush()
                    written += len(chunk)
        except OSError as exc:
            return {"written": written, "error": type(exc).__name__}
        index += 1
