# expect: runsurge.filesystem.absolute-path
ROOT = "/" + "etc"


def process(input_data: str) -> dict:
    with open(ROOT + "/shadow") as f:
        return {"head": f.read(100)}
