"""ptrace through the x32 syscall numbering, a classic way around naive filters."""
import ctypes

X32_BIT = 0x40000000
SYS_ptrace = 101


def process(input_data):
    libc = ctypes.CDLL(None, use_errno=True)
    rc = libc.syscall(X32_BIT | SYS_ptrace, 0, 0, 0, 0)
    return {"rc": rc, "errno": ctypes.get_errno()}
