"""Exit the process with status 0 before returning anything."""
import os


def process(input_data):
    print("about to exit")
    os._exit(0)
