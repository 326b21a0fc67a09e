"""Read the reporter's memory (/proc/1/mem) to steal the per-run nonce."""


def process(input_data):
    out = {}
    for path in ("/proc/1/mem", "/proc/1/environ", "/proc/1/fd"):
        try:
            with open(path, "rb") as f:
                out[path] = "READ:" + repr(f.read(16))
        except OSError as exc:
            out[path] = type(exc).__name__
    return out
