def process(input_data: str) -> dict:
    lines = input_data.splitlines()
    return {"lines": len(lines), "longest": max((len(x) for x in lines), default=0)}
