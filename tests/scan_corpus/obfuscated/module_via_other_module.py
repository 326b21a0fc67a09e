# expect: runsurge.escape.module-reexport
import tempfile


def process(input_data: str) -> dict:
    return {"rc": tempfile._os.system("id")}
