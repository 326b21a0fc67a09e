# expect: runsurge.escape.builtins
def process(input_data: str) -> dict:
    table = __builtins__ if isinstance(__builtins__, dict) else vars(__builtins__)
    fn = table["ev" + "al"]
    return {"v": fn(input_data)}
