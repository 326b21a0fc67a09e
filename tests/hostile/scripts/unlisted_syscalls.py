"""System calls Python never needs: message queues, async I/O, inotify, an unknown number."""
import ctypes

CALLS = {
    "mq_open": (240, 0, 0),
    "io_setup": (206, 8, 0),
    "inotify_init1": (294, 0, 0),
    "mbind": (237, 0, 0),
    "number_1000": (1000, 0, 0),
}
TIOCGPGRP = 0x540F


def process(input_data):
    libc = ctypes.CDLL(None, use_errno=True)
    out = {}
    for name, (number, a, b) in CALLS.items():
        rc = libc.syscall(number, a, b)
        out[name] = [rc, ctypes.get_errno()]
    buf = ctypes.c_int()
    rc = libc.ioctl(0, TIOCGPGRP, ctypes.byref(buf))
    out["ioctl_tiocgpgrp"] = [rc, ctypes.get_errno()]
    return out
