"""mount(2) a tmpfs over /usr/local through ctypes."""
import ctypes


def process(input_data):
    libc = ctypes.CDLL(None, use_errno=True)
    rc = libc.mount(b"none", b"/usr/local", b"tmpfs", 0, None)
    return {"rc": rc, "errno": ctypes.get_errno()}
