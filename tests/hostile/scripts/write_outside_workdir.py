"""Write everywhere except the work dir: the runtime, the root, the script, /etc, /dev."""
import json


TARGETS = (
    "/evil",
    "/etc/evil",
    "/usr/local/runsurge-python/evil",
    "/usr/local/runsurge-python/lib/python3.11/os.py",
    "/usr/lib/x86_64-linux-gnu/evil.so",
    "/task/script.py",
    "/runsurge/harness.py",
    "/proc/sys/kernel/hostname",
    # The site-packages mask (a .pth there runs at every interpreter start) and /dev.
    "/usr/local/runsurge-python/lib/python3.11/site-packages/evil.pth",
    "/dev/evil",
    "/dev/pts/evil",
)


def process(input_data):
    paths = json.loads(input_data)
    out = {}
    for target in (*TARGETS, paths["canary"], paths["token_file"]):
        try:
            with open(target, "a") as f:
                f.write("pwned")
            out[target] = "WROTE"
        except OSError as exc:
            out[target] = type(exc).__name__
    return out
