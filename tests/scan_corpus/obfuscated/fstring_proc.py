# expect: runsurge.filesystem.absolute-path
def process(input_data: str) -> dict:
    pid = 1
    with open(f"/proc/{pid}/environ", "rb") as f:
        return {"env": f.read().decode(errors="replace")}
