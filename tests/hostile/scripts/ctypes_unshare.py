"""Raw unshare(CLONE_NEWUSER) through ctypes: a namespace escape attempt."""
import ctypes

SYS_unshare = 272
CLONE_NEWUSER = 0x10000000


def process(input_data):
    libc = ctypes.CDLL(None, use_errno=True)
    rc = libc.syscall(SYS_unshare, CLONE_NEWUSER)
    return {"rc": rc, "errno": ctypes.get_errno()}
