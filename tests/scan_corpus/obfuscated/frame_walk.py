# expect: runsurge.escape.frames
import sys


def process(input_data: str) -> dict:
    frame = sys._getframe(0)
    return {"b": str(frame.f_back)}
