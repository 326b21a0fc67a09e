"""Print 32 MiB to stdout and stderr, then return normally."""
import sys


def process(input_data):
    line = "flood " * 170 + "\n"
    for i in range(32 * 1024):
        (sys.stdout if i % 2 else sys.stderr).write(line)
    return {"flooded": True}
