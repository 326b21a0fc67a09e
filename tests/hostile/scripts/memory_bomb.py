"""Allocate and touch memory until something stops us."""


def process(input_data):
    hoard = []
    while True:
        hoard.append(bytearray(b"x" * (1 << 20)))
