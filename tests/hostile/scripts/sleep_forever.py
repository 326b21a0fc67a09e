"""Never return, without using CPU."""
import time


def process(input_data):
    time.sleep(10**6)
    return {}
