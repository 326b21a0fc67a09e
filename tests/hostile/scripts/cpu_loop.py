"""Burn CPU forever."""


def process(input_data):
    n = 0
    while True:
        n += 1
