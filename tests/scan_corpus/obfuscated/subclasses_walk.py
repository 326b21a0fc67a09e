# expect: runsurge.escape.subclasses
def process(input_data: str) -> dict:
    for cls in ().__class__.__base__.__subclasses__():
        if cls.__name__ == "Popen":
            return {"found": True}
    return {"found": False}
