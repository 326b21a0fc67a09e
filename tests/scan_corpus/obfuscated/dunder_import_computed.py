# expect: runsurge.dynamic.dunder-import
def process(input_data: str) -> dict:
    mod = __import__("".join(chr(c) for c in (111, 115)))
    return {"cwd": mod.getcwd()}
