"""Change a terminal's line discipline (TIOCSETD): a classic route to kernel bugs."""
import ctypes

TIOCSETD = 0x5423


def process(input_data):
    libc = ctypes.CDLL(None, use_errno=True)
    discipline = ctypes.c_int(2)
    rc = libc.ioctl(0, TIOCSETD, ctypes.byref(discipline))
    return {"rc": rc, "errno": ctypes.get_errno()}
